import type { FastifyPluginAsync } from 'fastify'
import { agentRoutes } from './agents.js'
import { contactImportRoutes } from './contactsImport.js'
import { contactRoutes } from './contacts.js'
import { folderRoutes } from './folders.js'
import { numberRoutes } from './numbers.js'
import { batchRoutes } from './batches/index.js'
import { callRoutes } from './calls.js'
import { suppressionRoutes } from './suppression.js'
import { webhookRoutes } from './webhooks.js'
import { docsRoutes } from './docs.js'
import { healthRoutes } from './health.js'
import { twilioCallbackRoutes } from './callbacks/twilio.js'
import { webhookCallbackRoutes } from './callbacks/webhook.js'

/** The public API under `/api/public/v1`, plus the unauthenticated operational routes. */
export const routes: FastifyPluginAsync = async app => {
  await app.register(healthRoutes)
  await app.register(docsRoutes)
  for (const r of [twilioCallbackRoutes, webhookCallbackRoutes]) await app.register(r)
  await app.register(async v1 => {
    await v1.register(agentRoutes)
    for (const r of [numberRoutes, folderRoutes, contactRoutes, contactImportRoutes]) await v1.register(r)
    await v1.register(batchRoutes)
    await v1.register(callRoutes)
    await v1.register(suppressionRoutes)
    await v1.register(webhookRoutes)
  }, { prefix: '/api/public/v1' })
}
