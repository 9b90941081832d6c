import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { parseInstant } from '../../../domain/batchConfig.js'
import { normalizeId } from '../../../domain/ids.js'
import { isValidTimezone } from '../../../domain/schedule.js'
import { getBatch } from '../../../store/ops/batches/readBatches.js'
import { runBatchAction, type BatchAction } from '../../../store/ops/engine/lifecycle.js'
import { envelope, ERROR_RESPONSES, ok } from '../../envelope.js'
import { BatchCallResponse } from '../../schemas/batches.js'
import { IdParams } from '../../schemas/common.js'
import { presentBatch } from './present.js'

const ScheduleBody = Type.Union([Type.Object({
  scheduled_at: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
  timezone: Type.Optional(Type.String())
}), Type.Null()])

const ACTIONS: Array<{ action: BatchAction, status: number, summary: string, description: string }> = [
  { action: 'schedule', status: 200, summary: 'Schedule batch call', description: 'From draft: a future scheduled_at → scheduled, otherwise → active.' },
  { action: 'pause', status: 200, summary: 'Pause batch call', description: 'From active or scheduled. No new dial starts; calls in progress finish and still count.' },
  { action: 'resume', status: 201, summary: 'Resume batch call', description: 'From paused: → scheduled while the start is in the future, else active; continues where it stopped.' },
  { action: 'cancel', status: 200, summary: 'Cancel batch call', description: 'From any non-terminal status. Pending recipients become cancelled; calls in progress finish.' }
]

/** The lifecycle actions of API.md §3; 409 `invalid_state` with `details.status` and `details.allowed_from` otherwise. */
export const batchActionRoutes: FastifyPluginAsyncTypebox = async app => {
  const { store, clock, engine } = app.deps
  for (const a of ACTIONS) {
    app.post(`/batch-calls/:id/${a.action}`, {
      config: a.action === 'schedule'
        ? {
            rules: req => {
              const b = req.body as { timezone?: unknown } | null | undefined
              return b && typeof b.timezone === 'string' && !isValidTimezone(b.timezone)
                ? [{ loc: ['body', 'timezone'], msg: `Unknown IANA timezone ${JSON.stringify(b.timezone)}`, type: 'value_error' }]
                : []
            }
          }
        : {},
      schema: {
        tags: ['Batch Calls'],
        summary: a.summary,
        description: a.description,
        params: IdParams,
        ...(a.action === 'schedule' ? { body: ScheduleBody } : {}),
        response: { 200: envelope(Type.Ref(BatchCallResponse)), 201: envelope(Type.Ref(BatchCallResponse)), ...ERROR_RESPONSES }
      }
    }, async (req, reply) => {
      const id = normalizeId('batch', req.params.id)
      const body = (req.body ?? {}) as { scheduled_at?: string | null, timezone?: string }
      const opts = a.action === 'schedule'
        ? { ...(body.scheduled_at !== undefined ? { scheduledAt: parseInstant(body.scheduled_at) } : {}), ...(body.timezone ? { timezone: body.timezone } : {}) }
        : {}
      await runBatchAction(store, req.auth!.orgId, id, a.action, clock.now(), opts)
      engine.wake(id)
      const view = await getBatch(store.db, req.auth!.orgId, id)
      return await reply.code(a.status as 200).send(ok(req, presentBatch(view!)))
    })
  }
}
