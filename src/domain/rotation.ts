/** A caller id of a batch, in rotation order, with whether it can take a call now. */
export interface CallerId {
  readonly id: string
  readonly usable: boolean
}

export type RotationStrategy = 'random' | 'sequential' | 'round_robin'

/**
 * Picks the caller id of the next call (API.md §3 "Phone rotation"). Returns the index in
 * `numbers` and the new round-robin cursor, or null when no number is usable.
 * - round_robin: the next number in turn after the cursor, skipping unusable ones;
 * - sequential: the first usable number of the list;
 * - random: a uniformly random usable number (`random` in [0,1)).
 * A retry passes `keep`: the number of the recipient's first attempt is used again when usable, and
 * the rotation does not advance.
 */
export function pickCallerId (strategy: RotationStrategy, numbers: readonly CallerId[], cursor: number, random: () => number, keep: string | null = null): { index: number, cursor: number } | null {
  if (keep !== null) {
    const i = numbers.findIndex(n => n.id === keep)
    if (i >= 0 && numbers[i].usable) return { index: i, cursor }
  }
  const n = numbers.length
  if (n === 0) return null
  switch (strategy) {
    case 'round_robin':
      for (let k = 0; k < n; k++) {
        const i = (cursor + k) % n
        if (numbers[i].usable) return { index: i, cursor: cursor + k + 1 }
      }
      return null
    case 'sequential': {
      const i = numbers.findIndex(x => x.usable)
      return i < 0 ? null : { index: i, cursor }
    }
    case 'random': {
      const usable = numbers.map((x, i) => x.usable ? i : -1).filter(i => i >= 0)
      if (usable.length === 0) return null
      return { index: usable[Math.min(usable.length - 1, Math.floor(random() * usable.length))], cursor }
    }
  }
}
