import type { Clock } from '../src/clock.js'
import type { CallEvent, DialRequest, TelephonyProvider } from '../src/telephony/provider.js'

/**
 * A provider that answers and ends every call at once (0 s, no cost): what is left is the engine's
 * own cost per dial. Used by the dispatch benchmarks.
 */
export class ZeroLatencyProvider implements TelephonyProvider {
  readonly type = 'simulator'
  dials = 0
  private handler: (e: CallEvent) => void = () => {}
  constructor (private readonly clock: Clock) {}
  onEvent (h: (e: CallEvent) => void): void { this.handler = h }
  async dial (req: DialRequest): Promise<{ providerCallId: string }> {
    this.dials++
    queueMicrotask(() => this.handler({ type: 'ended', callId: req.callId, at: this.clock.now(), outcome: 'answered', durationSec: 0, costMicros: 0 }))
    return { providerCallId: req.callId }
  }

  async hangup (): Promise<void> {}
  async lookup (): Promise<null> { return null }
  async close (): Promise<void> {}
}
