/**
 * The number configuration of each call a provider dialled, kept (bounded) for hang-ups and
 * lookups; for calls dialled by another process (after a restart) it is read through
 * `credentialsFor` and parsed again. An unreadable configuration reads as null.
 */
export class CallCredentials<T> {
  private readonly byCall = new Map<string, T>()

  constructor (
    private readonly parse: (raw: Record<string, unknown>) => T,
    private readonly credentialsFor?: (callId: string) => Promise<Record<string, unknown> | null>,
    private readonly max = 50_000
  ) {}

  remember (callId: string, cfg: T): void {
    this.byCall.set(callId, cfg)
    if (this.byCall.size > this.max) this.byCall.delete(this.byCall.keys().next().value!)
  }

  async get (callId: string): Promise<T | null> {
    const known = this.byCall.get(callId)
    if (known) return known
    const raw = await this.credentialsFor?.(callId)
    if (!raw) return null
    try { return this.parse(raw) } catch { return null }
  }

  clear (): void { this.byCall.clear() }
}
