/** Output form of every instant: ISO-8601 UTC with microseconds and `Z` (the seed's `2026-03-05T10:00:00.000000Z`). */
export function isoMicros (ms: number, micros = 0): string {
  const s = new Date(ms).toISOString() // 2026-03-05T10:00:00.000Z
  return `${s.slice(0, 23)}${String(micros).padStart(3, '0')}Z`
}

export function isoOrNull (ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : isoMicros(ms)
}

const origin = performance.timeOrigin

/** Now with microsecond resolution, for `meta.ts`. */
export function nowIsoMicros (): string {
  const t = origin + performance.now()
  const ms = Math.floor(t)
  return isoMicros(ms, Math.floor((t - ms) * 1000))
}

/** Money is kept as integer micro-dollars so that sums never drift. */
export function usdToMicros (usd: number): number {
  return Math.round(usd * 1_000_000)
}

export function microsToUsd (micros: number): number {
  return Math.round(micros) / 1_000_000
}
