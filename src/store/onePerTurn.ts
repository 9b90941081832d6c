/**
 * Shares one reading among every caller of one turn of the event loop. The reading is taken (its
 * query sent) in the turn's check phase, after all of those callers asked, so each gets a reading
 * at least as fresh as one it would have taken itself. Under load, many requests arrive in one
 * turn; they pay for one reading.
 */
export function onePerTurn<T> (read: () => T | Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null
  return () => {
    pending ??= new Promise<T>((resolve, reject) => {
      setImmediate(() => {
        pending = null
        Promise.resolve().then(read).then(resolve, reject)
      })
    })
    return pending
  }
}
