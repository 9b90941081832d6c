/**
 * Answers reused while the store has not changed. Every value is kept with the store's read mark
 * (`Store.readMark`) taken before it was computed, and only when the mark is the same once it is
 * computed; a new mark drops every value. So a reused value is exactly what the reads would give
 * now, whoever wrote in between: this process, the engine, or another process on the same file.
 * A store without a mark (null) gets no reuse. Values also expire after `ttlMs` (by the caller's
 * clock), for answers that depend on the time as well as on the data.
 *
 * Memory is bounded by a budget of weight (by default one per entry; the caller may weigh a value
 * by its size): the oldest values go first, and a value heavier than the whole budget is never
 * kept.
 */
export class ReadCache<V> {
  #mark: string | null = null
  #weight = 0
  readonly #entries = new Map<string, { value: V, expiresAt: number, weight: number }>()

  constructor (
    private readonly readMark: () => Promise<string | null>,
    private readonly maxWeight: number,
    private readonly weigh: (key: string, value: V) => number = () => 1
  ) {}

  /**
   * The kept value of `key`, or `compute()`'s. `mark` may be one the caller took earlier in the same
   * request (taking one costs a database call): a kept value is then as of that moment.
   */
  async getOrCompute (key: string, now: number, ttlMs: number, compute: () => Promise<V>, markTaken?: string | null): Promise<V> {
    const mark = markTaken === undefined ? await this.readMark() : markTaken
    if (mark !== null && mark === this.#mark) {
      const hit = this.#entries.get(key)
      if (hit !== undefined && hit.expiresAt > now) return hit.value
    }
    const value = await compute()
    if (mark !== null && await this.readMark() === mark) this.#keep(mark, key, value, now + ttlMs)
    return value
  }

  get size (): number { return this.#entries.size }
  /** The weight of what is kept now. */
  get weight (): number { return this.#weight }

  #keep (mark: string, key: string, value: V, expiresAt: number): void {
    if (mark !== this.#mark) {
      this.#entries.clear()
      this.#weight = 0
      this.#mark = mark
    }
    this.#drop(key)
    const weight = this.weigh(key, value)
    if (weight > this.maxWeight) return
    while (this.#weight + weight > this.maxWeight) this.#drop(this.#entries.keys().next().value!)
    this.#entries.set(key, { value, expiresAt, weight })
    this.#weight += weight
  }

  #drop (key: string): void {
    const e = this.#entries.get(key)
    if (e === undefined) return
    this.#entries.delete(key)
    this.#weight -= e.weight
  }
}
