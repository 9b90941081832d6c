/* global document */
// Short polling that is polite to the API's per-key rate limit: one request chain at a time, paused
// while the tab is hidden, slowed down after a 429 (Retry-After) or an error.

/**
 * Runs `tick()` now and then every `everyMs` after it settles, until the returned stop function is
 * called or `tick` resolves to `false`. `onError(e)` sees failures (the loop keeps going).
 */
export function poll (tick, everyMs, onError) {
  let stopped = false
  let timer = null
  const run = async () => {
    timer = null
    if (stopped) return
    if (document.hidden) { timer = setTimeout(run, everyMs); return }
    let wait = everyMs
    try {
      if (await tick() === false) { stopped = true; return }
    } catch (e) {
      onError?.(e)
      wait = e?.status === 429 ? Math.max(everyMs, 1000 * (e.retryAfter ?? 1)) : everyMs * 3
    }
    if (!stopped) timer = setTimeout(run, wait)
  }
  run()
  return () => { stopped = true; if (timer) clearTimeout(timer) }
}
