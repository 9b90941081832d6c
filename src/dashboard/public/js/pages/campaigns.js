// The campaigns list: status, progress, outcomes, cost and the next calling window of each batch.
import { get } from '../api.js'
import { badge, fmtNum, fmtTime, fmtUsd, h, pager, progressBar, replace, showError, table } from '../dom.js'
import { poll } from '../poll.js'

export const TERMINAL = new Set(['completed', 'cancelled', 'failed'])
const PAGE = 25

/** Recipients that are finished: after an attempt (completed_contacts) or without one (skipped). */
export const doneOf = b => b.completed_contacts + b.skipped_contacts

/** "open now until …" or "opens …" for the first window of `GET /batch-calls/{id}/calling-windows`. */
export function windowText (w, timeZone, now = Date.now()) {
  if (!w) return 'no window ahead'
  return Date.parse(w.opens_at) <= now ? `open now, until ${fmtTime(w.closes_at, timeZone)}` : `opens ${fmtTime(w.opens_at, timeZone)}`
}

export function outcomes (b) {
  return h('span', { class: 'outcomes' },
    h('span', { title: 'answered' }, `✔ ${fmtNum(b.successful_contacts)} answered`),
    h('span', null, `${fmtNum(b.voicemail_contacts)} voicemail`),
    h('span', null, `${fmtNum(b.no_answer_contacts)} no answer`),
    h('span', null, `${fmtNum(b.failed_contacts)} failed`),
    b.skipped_contacts > 0 ? h('span', null, `${fmtNum(b.skipped_contacts)} skipped`) : null)
}

export function renderCampaigns (root) {
  const windows = new Map()
  const status = h('select', { id: 'campaign-status-filter', name: 'status' },
    ['', 'draft', 'scheduled', 'active', 'paused', 'completed', 'cancelled', 'failed'].map(s => h('option', { value: s }, s || 'any')))
  const list = h('div', { 'aria-live': 'off' })
  const err = h('p', { class: 'alert', role: 'alert', hidden: true })
  let offset = 0
  replace(root,
    h('div', { class: 'page-head' }, h('h1', null, 'Campaigns'), h('a', { class: 'button', href: '#/campaigns/new' }, 'New campaign')),
    h('div', { class: 'filters' }, h('label', { for: status.id }, 'Status'), status),
    err, list)

  /**
   * The next window of each live batch: asked again when its status changes or after a minute (the
   * list refreshes every 5 s; asking every time would spend the key's rate limit on windows).
   */
  async function nextWindow (b) {
    if (TERMINAL.has(b.status)) return null
    const cached = windows.get(b.id)
    if (!cached || cached.status !== b.status || Date.now() - cached.at > 60_000) {
      windows.set(b.id, { status: b.status, at: Date.now(), answer: get(`/batch-calls/${b.id}/calling-windows`, { count: 1 }).then(r => r.data[0] ?? null, () => undefined) })
    }
    return await windows.get(b.id).answer
  }

  async function load () {
    const r = await get('/batch-calls', { limit: PAGE, offset, status: status.value })
    const next = await Promise.all(r.data.map(nextWindow))
    err.hidden = true
    replace(list,
      table('Campaigns', [
        { label: 'Name', cell: b => h('a', { href: `#/campaigns/${b.id}` }, b.name) },
        { label: 'Status', cell: b => badge(b.status) },
        { label: 'Progress', class: 'wide', cell: b => progressBar(doneOf(b), b.total_contacts, `Progress of ${b.name}`) },
        { label: 'Outcomes', cell: outcomes },
        { label: 'Cost', class: 'num', cell: b => fmtUsd(b.total_cost_usd) },
        { label: 'Next window', cell: b => (TERMINAL.has(b.status) ? '—' : next[r.data.indexOf(b)] === undefined ? 'unavailable' : windowText(next[r.data.indexOf(b)], b.timezone)) }
      ], r.data, 'No campaigns yet. Create one with "New campaign".'),
      pager(r.pagination, o => { offset = o; void load().catch(e => showError(err, e)) }, 'Campaign pages'))
  }

  status.addEventListener('change', () => { offset = 0; void load().catch(e => showError(err, e)) })
  return poll(load, 5000, e => showError(err, e))
}
