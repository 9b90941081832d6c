import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { BATCH_DEFAULTS, scheduleIssues } from '../../../domain/batchConfig.js'
import { normalizeId } from '../../../domain/ids.js'
import { listCallingWindows, parseClock } from '../../../domain/schedule.js'
import { isoMicros } from '../../../domain/time.js'
import { errors } from '../../../errors.js'
import { batchWindow } from '../../../store/ops/engine/batchWindow.js'
import { getBatch } from '../../../store/ops/batches/readBatches.js'
import { envelope, ERROR_RESPONSES, ok } from '../../envelope.js'
import { IdParams } from '../../schemas/common.js'

const WindowItem = Type.Object({ opens_at: Type.String({ format: 'date-time' }), closes_at: Type.String({ format: 'date-time' }), local_date: Type.String() })
const WindowsQuery = Type.Object({ from: Type.Optional(Type.String({ format: 'date-time' })), count: Type.Integer({ minimum: 1, maximum: 100, default: 10 }) })
const PreviewBody = Type.Object({
  timezone: Type.Optional(Type.String()),
  start_time: Type.Optional(Type.Union([Type.String({ pattern: '^\\d{2}:\\d{2}$' }), Type.Null()])),
  end_time: Type.Optional(Type.Union([Type.String({ pattern: '^\\d{2}:\\d{2}$' }), Type.Null()])),
  working_days: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 7 }))),
  from: Type.Optional(Type.String({ format: 'date-time' })),
  count: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 }))
})

function present (w: ReturnType<typeof listCallingWindows>) {
  return w.map(x => ({ opens_at: isoMicros(x.opensAt), closes_at: isoMicros(x.closesAt), local_date: x.localDate }))
}

/**
 * The calling calendar: the next allowed intervals of a batch, or of a configuration before any batch
 * exists. Both use `listCallingWindows`, the function the engine's own checks are built on.
 */
export const callingWindowRoutes: FastifyPluginAsyncTypebox = async app => {
  const { store, clock } = app.deps

  app.get('/batch-calls/:id/calling-windows', {
    schema: { tags: ['Batch Calls'], summary: 'Calling calendar of a batch', params: IdParams, querystring: WindowsQuery, response: { 200: envelope(Type.Array(WindowItem)), ...ERROR_RESPONSES } }
  }, async req => {
    const b = await getBatch(store.db, req.auth!.orgId, normalizeId('batch', req.params.id))
    if (!b) throw errors.notFound('batch', req.params.id)
    const from = req.query.from ? Date.parse(req.query.from) : clock.now()
    return ok(req, present(listCallingWindows(batchWindow(b), from, req.query.count)))
  })

  app.post('/calling-windows/preview', {
    config: {
      rules: req => {
        const b = (req.body ?? {}) as Record<string, any>
        return scheduleIssues({
          schedule_type: 'immediate', scheduled_at: null, timezone: b.timezone ?? BATCH_DEFAULTS.timezone,
          start_time: b.start_time ?? null, end_time: b.end_time ?? null,
          working_days: Array.isArray(b.working_days) ? b.working_days : [...BATCH_DEFAULTS.working_days]
        }, f => b[f] !== undefined && b[f] !== null)
      }
    },
    schema: { tags: ['Batch Calls'], summary: 'Preview a calling calendar', body: PreviewBody, response: { 200: envelope(Type.Array(WindowItem)), ...ERROR_RESPONSES } }
  }, async req => {
    const b = req.body
    const w = {
      timezone: b.timezone ?? BATCH_DEFAULTS.timezone,
      startMinute: b.start_time ? parseClock(b.start_time) : null,
      endMinute: b.end_time ? parseClock(b.end_time, { allow24: true }) : null,
      workingDays: b.working_days ?? [...BATCH_DEFAULTS.working_days]
    }
    const from = b.from ? Date.parse(b.from) : clock.now()
    return ok(req, present(listCallingWindows(w, from, b.count ?? 10)))
  })
}
