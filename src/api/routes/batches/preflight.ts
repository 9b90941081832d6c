import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { normalizeId } from '../../../domain/ids.js'
import { errors } from '../../../errors.js'
import { preflightReport } from '../../../store/ops/batches/preflight.js'
import { envelope, ERROR_RESPONSES, ok } from '../../envelope.js'
import { IdParams } from '../../schemas/common.js'

const Listed = <T extends ReturnType<typeof Type.Object> | ReturnType<typeof Type.String>>(item: T, extra = {}) =>
  Type.Object({ count: Type.Integer(), ...extra, items: Type.Array(item, { description: 'The first 100' }) })

export const PreflightReport = Type.Object({
  batch_id: Type.Union([Type.String(), Type.Null()], { description: 'null for a dry run (nothing was created)' }),
  total_contacts: Type.Integer(),
  callable_contacts: Type.Integer({ description: 'Recipients still to call that have none of the problems below' }),
  invalid_numbers: Listed(Type.Object({ index: Type.Integer(), phone_number: Type.String(), reason: Type.String() }), {}),
  duplicates: Listed(Type.String(), {}),
  suppressed: Listed(Type.String(), {}),
  no_calling_time: Listed(Type.String(), { horizon_days: Type.Integer() }),
  estimate: Type.Object({
    first_call_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    finish_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    attempts: Type.Number({ description: 'Expected attempts, retries included' }),
    cost_usd: Type.Union([Type.Number(), Type.Null()], { description: 'null without a cost history' }),
    average_attempt_seconds: Type.Number(),
    retry_share: Type.Number({ description: 'Share of attempts expected to be retried' }),
    basis: Type.String(),
    tolerance: Type.Number({ description: 'Relative accuracy stated for finish time (from the first call) and cost' }),
    note: Type.String()
  })
}, { description: '[ext] What a batch would do, found without dialling' })

export const preflightRoutes: FastifyPluginAsyncTypebox = async app => {
  const { store, clock } = app.deps
  app.post('/batch-calls/:id/preflight', {
    schema: {
      tags: ['Batch Calls'],
      summary: 'Preflight a batch',
      description: '[ext] Without dialling or writing anything: suppressed numbers, contacts with no allowed time in the next 7 days, and an ' +
        'estimate of the finish time and cost from the window, caps, concurrency, retries and the recent calls. (Invalid numbers and ' +
        'duplicates are refused or merged when contacts are added; `dry_run: true` on create reports them.)',
      params: IdParams,
      response: { 200: envelope(PreflightReport), ...ERROR_RESPONSES }
    }
  }, async req => {
    const id = normalizeId('batch', req.params.id)
    const b = await store.db.selectFrom('batch_calls').selectAll().where('org_id', '=', req.auth!.orgId).where('id', '=', id).executeTakeFirst()
    if (!b) throw errors.notFound('batch', req.params.id)
    return ok(req, await preflightReport(store.db, b, clock.now()))
  })
}
