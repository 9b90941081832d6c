import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createHmac, timingSafeEqual } from 'node:crypto'

export interface Received {
  headers: Record<string, string | string[] | undefined>
  raw: string
  body: { id: string, event: string, timestamp: string, data: Record<string, any> }
  answered: number
}

/**
 * A local event-webhook receiver on 127.0.0.1. `status` is what it answers (e.g. 503 while "down");
 * every request is recorded with its raw body, whatever the answer. `close()` then `listen()` again
 * on the same port makes it unreachable for a while (connection refused).
 */
export class WebhookReceiver {
  readonly requests: Received[] = []
  status = 200
  private server: Server | null = null
  port = 0

  get url (): string { return `http://127.0.0.1:${this.port}/hooks/truedy` }

  async listen (): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        this.requests.push({ headers: req.headers, raw, body: JSON.parse(raw), answered: this.status })
        res.writeHead(this.status, { 'content-type': 'text/plain' }).end('ok')
      })
    })
    await new Promise<void>(resolve => server.listen(this.port, '127.0.0.1', resolve))
    this.port = (server.address() as AddressInfo).port
    this.server = server
  }

  async close (): Promise<void> {
    const s = this.server
    this.server = null
    if (s) await new Promise<void>(resolve => { s.closeAllConnections(); s.close(() => { resolve() }) })
  }

  /** Requests answered 2xx, i.e. the deliveries that counted. */
  accepted (): Received[] { return this.requests.filter(r => r.answered >= 200 && r.answered < 300) }
}

/** Verifies `X-Truedy-Signature` over the raw body the way a receiver should (constant time), from API.md's formula. */
export function signatureValid (r: Received, secret: string): boolean {
  const ts = Number(r.headers['x-truedy-timestamp'])
  const got = String(r.headers['x-truedy-signature'] ?? '')
  if (!Number.isInteger(ts) || !/^[0-9a-f]{64}$/.test(got)) return false
  return timingSafeEqual(Buffer.from(got, 'hex'), createHmac('sha256', secret).update(`${ts}.${r.raw}`).digest())
}
