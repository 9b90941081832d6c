import type { ValidationIssue } from '../../../errors.js'
import type { Tx } from '../../store.js'

/**
 * The batch's caller ids: `requested` when given (each must exist in the organization, reported
 * by index), else the agent's outbound numbers. None at all is an issue at `phone_number_ids`.
 */
export async function resolveCallerIds (tx: Tx, orgId: string, agentId: string, requested: readonly string[] | null, issues: ValidationIssue[]): Promise<string[]> {
  if (requested && requested.length > 0) {
    const rows = await tx.selectFrom('phone_numbers').select('id').where('org_id', '=', orgId).where('id', 'in', [...requested]).execute()
    const have = new Set(rows.map(r => r.id))
    const out: string[] = []
    requested.forEach((id, i) => {
      if (!have.has(id)) issues.push({ loc: ['body', 'phone_number_ids', i], msg: `phone number ${id} not found`, type: 'not_found' })
      else if (!out.includes(id)) out.push(id)
    })
    return out
  }
  const rows = await tx.selectFrom('phone_numbers').select('id').where('org_id', '=', orgId).where('outbound_agent_id', '=', agentId)
    .orderBy('created_at').orderBy('id').execute()
  if (rows.length === 0) {
    issues.push({ loc: ['body', 'phone_number_ids'], msg: 'no caller id: give phone_number_ids or assign an outbound number to the agent', type: 'value_error' })
  }
  return rows.map(r => r.id)
}
