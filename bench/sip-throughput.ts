/**
 * SIP provider (issue 4), real UDP on loopback against sipp (the test carrier, test/sipp/carrier.xml).
 *
 *   (a) throughput: SipProvider alone dials `answer-0` calls (100 Trying, 180, 200 OK, ACK, callee BYE at
 *       once) at a fixed offered rate for a few seconds, stepping the rate up until calls fail, arrive
 *       late or sipp reports a scenario failure. Reports offered vs achieved calls/s and failures.
 *   (b) added latency claim → INVITE on the wire: an Engine (SQLite, real clock) runs a batch of
 *       `answer-0` recipients; per call, the INVITE's first send (the provider's transport hook) minus the
 *       call row's `claimed_at`, and minus the engine's `call:dialing` event (performance.now()).
 *
 * Usage: npx tsx bench/sip-throughput.ts [--only=a,b] [--rates=100,200,400,800,1600] [--step-sec=3]
 *                                        [--calls=1000] [--concurrency=50] [--no-wait]
 * Ports: UA 5190, sipp 5191 (free them first).
 */
import type { CallEvent } from '../src/telephony/provider.js'
import { SipProvider } from '../src/telephony/sip/sipProvider.js'
import { startSipEngine, startSipp } from '../test/helpers/sipp.js'
import { arg, flag, loads, sleep, summary, waitQuiet, writeResult } from './engine-common.js'

const only = new Set(arg('only', 'a,b').split(','))
const RATES = arg('rates', '100,200,400,800,1600').split(',').map(Number)
const STEP_SEC = Number(arg('step-sec', '3'))
const CALLS = Number(arg('calls', '1000'))
const CONCURRENCY = Number(arg('concurrency', '50'))
const UA_PORT = 5190
const SIPP_PORT = 5191

interface Step { offered: number, dialled: number, answered: number, failed: number, achievedCps: number, p50SetupMs: number, p99SetupMs: number, sippExit: number | null, load: string }

async function throughputStep (rate: number): Promise<Step> {
  const total = Math.round(rate * STEP_SEC)
  const sipp = await startSipp(SIPP_PORT, total, { timeoutSec: STEP_SEC + 30 })
  const sip = new SipProvider({ bindAddress: '127.0.0.1', bindPort: UA_PORT, connectTimeoutMs: 5000, ringTimeoutMsForTests: 10_000 })
  const started = new Map<string, number>()
  const setup: number[] = []
  let answered = 0
  let failed = 0
  let lastEnd = 0
  const done = new Promise<void>(resolve => {
    sip.onEvent((e: CallEvent) => {
      if (e.type === 'answered') setup.push(performance.now() - started.get(e.callId)!)
      if (e.type !== 'ended') return
      if (e.outcome === 'answered') answered++
      else failed++
      lastEnd = performance.now()
      if (answered + failed === total) resolve()
    })
  })
  const t0 = performance.now()
  const loadStart = loads()
  // Dial on schedule: call i at t0 + i / rate (catching up in bursts when the loop falls behind).
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 1) await sleep(wait)
    const callId = `bench_${rate}_${i}`
    started.set(callId, performance.now())
    void sip.dial({
      callId, attempt: 1, batchId: null, from: '+18885550100', to: `+1415${String(1_000_000 + i)}`,
      numberConfig: { sip_server: `127.0.0.1:${SIPP_PORT}` }, agent: {}, variables: { sip_test_scenario: 'answer-0' },
      ringTimeoutSec: 30, maxDurationSec: 60
    }).catch(() => { failed++ })
  }
  await Promise.race([done, sleep(STEP_SEC * 1000 + 20_000)])
  const sippExit = await sipp.exit(20_000)
  await sip.close()
  await sipp.stop()
  const s = summary([...setup].sort((a, b) => a - b))
  return {
    offered: rate, dialled: total, answered, failed,
    achievedCps: Math.round(answered / ((lastEnd - t0) / 1000)),
    p50SetupMs: Number(s.p50.toFixed(2)), p99SetupMs: Number(s.p99.toFixed(2)), sippExit, load: `${loadStart} → ${loads()}`
  }
}

async function partA (): Promise<Step[]> {
  const steps: Step[] = []
  for (const rate of RATES) {
    const step = await throughputStep(rate)
    steps.push(step)
    console.log(JSON.stringify(step))
    if (step.failed > 0 || step.answered < step.dialled || step.sippExit !== 0 || step.achievedCps < rate * 0.9) break
    await sleep(1000)
  }
  console.log('\n| offered calls/s | calls | answered | failed | achieved calls/s | INVITE→200 p50 / p99 (ms) | sipp exit | load (1/5/15) |')
  console.log('|---:|---:|---:|---:|---:|---:|---:|---|')
  for (const s of steps) console.log(`| ${s.offered} | ${s.dialled} | ${s.answered} | ${s.failed} | ${s.achievedCps} | ${s.p50SetupMs} / ${s.p99SetupMs} | ${s.sippExit} | ${s.load} |`)
  return steps
}

async function partB (): Promise<Record<string, unknown>> {
  const sipp = await startSipp(SIPP_PORT, CALLS, { timeoutSec: 120 })
  const invitePerf = new Map<string, number>()
  const inviteAt = new Map<string, number>()
  const dialingPerf = new Map<string, number>()
  const h = await startSipEngine('sqlite', UA_PORT, {
    sip: { onInviteSent: (callId, at) => { invitePerf.set(callId, performance.now()); inviteAt.set(callId, at) } },
    engine: { pollMs: 1000 }
  })
  h.engine.events.on('call:dialing', e => { dialingPerf.set(e.callId, performance.now()) })
  try {
    const { agentId } = await h.sipNumber(`127.0.0.1:${SIPP_PORT}`)
    const contacts = Array.from({ length: CALLS }, (_, i) => ({ phone_number: `+1415888${String(1000 + i).padStart(4, '0')}`, custom_fields: { sip_test_scenario: 'answer-0' } }))
    const t0 = Date.now()
    const b = await h.t.call('POST', '/batch-calls', {
      name: 'sip bench', agent_id: agentId, contacts, max_concurrent_calls: CONCURRENCY, auto_start: true,
      working_days: [1, 2, 3, 4, 5, 6, 7], start_time: '00:00', end_time: '24:00', timezone: 'UTC'
    })
    if (b.status !== 201) throw new Error(JSON.stringify(b.body))
    const id = b.body.data.id as string
    h.engine.wake(id)
    for (;;) {
      const s = (await h.t.call('GET', `/batch-calls/${id}`)).body.data
      if (s.status === 'completed') break
      if (Date.now() - t0 > 300_000) throw new Error(`batch not done: ${JSON.stringify(s)}`)
      await sleep(100)
    }
    const elapsedSec = (Date.now() - t0) / 1000
    const rows = await h.t.ts.store.db.selectFrom('calls').select(['id', 'claimed_at', 'outcome']).where('batch_id', '=', id).execute()
    const claimToInvite = rows.filter(r => inviteAt.has(r.id)).map(r => inviteAt.get(r.id)! - Number(r.claimed_at)).sort((a, b) => a - b)
    const dialingToInvite = [...invitePerf].filter(([cid]) => dialingPerf.has(cid)).map(([cid, t]) => t - dialingPerf.get(cid)!).sort((a, b) => a - b)
    const result = {
      calls: rows.length,
      answered: rows.filter(r => r.outcome === 'answered').length,
      concurrency: CONCURRENCY,
      callsPerSec: Number((rows.length / elapsedSec).toFixed(1)),
      claimToInviteMs: summary(claimToInvite),
      dialingToInviteMs: summary(dialingToInvite),
      sippExit: await sipp.exit(30_000)
    }
    const f = (x: number): string => x.toFixed(2)
    console.log(JSON.stringify(result))
    console.log('\n| calls | max_concurrent_calls | calls/s (engine + SIP) | claim → INVITE p50 / p99 / max (ms) | `call:dialing` → INVITE p50 / p99 / max (ms) | sipp exit |')
    console.log('|---:|---:|---:|---:|---:|---:|')
    console.log(`| ${result.calls} | ${CONCURRENCY} | ${result.callsPerSec} | ${f(result.claimToInviteMs.p50)} / ${f(result.claimToInviteMs.p99)} / ${f(result.claimToInviteMs.max)} | ${f(result.dialingToInviteMs.p50)} / ${f(result.dialingToInviteMs.p99)} / ${f(result.dialingToInviteMs.max)} | ${result.sippExit} |`)
    return result
  } finally {
    await h.close()
    await sipp.stop()
  }
}

if (!flag('no-wait')) await waitQuiet('sip-throughput')
const out: Record<string, unknown> = {}
if (only.has('a')) out.throughput = await partA()
if (only.has('b')) out.latency = await partB()
console.log(`\nwritten ${writeResult('sip-throughput', out)}`)
