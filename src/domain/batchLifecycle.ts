/** Campaign statuses (API.md §3). */
export type BatchStatus = 'draft' | 'scheduled' | 'active' | 'paused' | 'completed' | 'failed' | 'cancelled'

/** Lifecycle actions and the statuses they are allowed from (API.md §3 status machine). */
export const ALLOWED_FROM: Record<'schedule' | 'pause' | 'resume' | 'cancel' | 'update' | 'delete' | 'add_contacts', readonly BatchStatus[]> = {
  schedule: ['draft'],
  pause: ['active', 'scheduled'],
  resume: ['paused'],
  cancel: ['draft', 'scheduled', 'active', 'paused'],
  update: ['draft', 'scheduled', 'paused'],
  delete: ['draft', 'failed', 'cancelled', 'completed'],
  add_contacts: ['draft', 'scheduled', 'active', 'paused']
}

export const TERMINAL: readonly BatchStatus[] = ['completed', 'cancelled', 'failed']

export function isTerminal (s: BatchStatus): boolean {
  return TERMINAL.includes(s)
}

/** Where a batch goes when it starts or resumes: `scheduled` while its start is in the future, else `active`. */
export function startStatus (scheduledAt: number | null, now: number): 'scheduled' | 'active' {
  return scheduledAt !== null && scheduledAt > now ? 'scheduled' : 'active'
}
