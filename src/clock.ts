/** Source of the current instant. The engine and every store operation take time from here, never from `Date.now()`. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }

/** A clock that only moves when told to; tests drive daylight-saving days and midnights with it. */
export class FakeClock implements Clock {
  constructor (private t: number) {}
  now (): number { return this.t }
  set (t: number | string): void { this.t = typeof t === 'string' ? Date.parse(t) : t }
  advance (ms: number): void { this.t += ms }
}
