/** Final result of one attempt. */
export type Outcome = 'answered' | 'voicemail' | 'no_answer' | 'busy' | 'failed' | 'cancelled' | 'unknown'

export const OUTCOMES: readonly Outcome[] = ['answered', 'voicemail', 'no_answer', 'busy', 'failed', 'cancelled', 'unknown']
