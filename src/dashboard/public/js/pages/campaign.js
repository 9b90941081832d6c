/* global document, URL */
// One campaign: live progress (short poll), outcome and calls-per-hour charts, calls in progress,
// the recipients with a status filter and paging, lifecycle buttons, preflight report and export.
import { ApiError, get, getAll, post, request } from '../api.js'
import { barsChart, columnsChart, perHour } from '../charts.js'
import { badge, confirmDialog, fmtDuration, fmtNum, fmtTime, fmtUsd, h, pager, progressBar, replace, showError, table, toast } from '../dom.js'
import { poll } from '../poll.js'
import { doneOf, TERMINAL, windowText } from './campaigns.js'

const RECIPIENT_STATUSES = ['pending', 'dialing', 'retry_wait', 'completed', 'voicemail', 'no_answer', 'failed', 'skipped', 'cancelled']
const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']
const PAGE = 25
/** The fields the "Schedule and limits" section shows (it is redrawn when one changes). */
const CONFIG_FIELDS = ['timezone', 'start_time', 'end_time', 'working_days', 'schedule_type', 'scheduled_at', 'max_concurrent_calls', 'max_calls_per_day',
  'retry_failed', 'max_retry_attempts', 'retry_delay_minutes', 'retry_on', 'phone_number_ids', 'phone_rotation_strategy', 'max_cost_usd']
/** Calls read for the per-hour chart: the latest ones, at most this many. */
const CHART_CALLS = 500

/** The actions of API.md §3, each with the statuses it is offered from and its confirmation text. */
const ACTIONS = [
  { action: 'schedule', label: 'Start', from: ['draft'], title: 'Start this campaign?', text: 'Calls begin at its start time, inside its calling window.', verb: 'Start' },
  { action: 'pause', label: 'Pause', from: ['active', 'scheduled'], title: 'Pause this campaign?', text: 'No new call starts; calls in progress finish normally.', verb: 'Pause' },
  { action: 'resume', label: 'Resume', from: ['paused'], title: 'Resume this campaign?', text: 'Calling continues where it stopped, inside the calling window.', verb: 'Resume' },
  { action: 'cancel', label: 'Cancel campaign', from: ['draft', 'scheduled', 'active', 'paused'], title: 'Cancel this campaign?', text: 'Recipients not yet called are cancelled; calls in progress finish. This cannot be undone.', verb: 'Cancel campaign', danger: true }
]

/** A JSON value as nested definition lists (the preflight report's shape is the server's to choose). */
export function kvView (v) {
  if (v === null || v === undefined) return h('span', { class: 'muted' }, '—')
  if (Array.isArray(v)) {
    if (v.length === 0) return h('span', { class: 'muted' }, 'none')
    if (v.every(x => x === null || typeof x !== 'object')) return v.join(', ')
    return h('ul', { class: 'kv-list' }, v.map(x => h('li', null, kvView(x))))
  }
  if (typeof v === 'object') {
    return h('dl', { class: 'kv' }, Object.entries(v).flatMap(([k, x]) => [h('dt', null, k.replaceAll('_', ' ')), h('dd', null, kvView(x))]))
  }
  if (typeof v === 'boolean') return v ? 'yes' : 'no'
  return String(v)
}

function windowSummary (b) {
  const days = b.working_days.length === 7 ? 'every day' : b.working_days.map(d => DAYS[d - 1]).join(', ')
  const hours = b.start_time && b.end_time ? `${b.start_time}–${b.end_time}` : 'all day'
  return `${hours}, ${days} (${b.timezone})`
}

export function renderCampaign (root, [id]) {
  const state = { batch: null, recipientsOffset: 0, lastDetail: 0, lastChart: 0, key: '', configKey: '', lastConfig: 0 }
  const title = h('h1', null, 'Campaign')
  const statusEl = h('span', { 'aria-live': 'polite', 'data-testid': 'campaign-status' })
  const reason = h('p', { class: 'muted', hidden: true })
  const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Campaign actions' })
  const err = h('p', { class: 'alert', role: 'alert', hidden: true })
  const progress = h('div', { 'data-testid': 'campaign-progress' })
  const figures = h('dl', { class: 'figures' })
  const outcomeChart = h('div')
  const hourChart = h('div')
  const live = h('div')
  const config = h('div')
  const preflight = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Checks what would stop this campaign from calling (caller ids, window, contacts) without calling anyone.'))
  const filter = h('select', { id: 'recipient-status', name: 'recipient_status' }, h('option', { value: '' }, 'any'), RECIPIENT_STATUSES.map(s => h('option', { value: s }, s.replace('_', ' '))))
  const recipients = h('div')

  const section = (heading, ...body) => h('section', { class: 'card', 'aria-label': heading }, h('h2', null, heading), body)
  replace(root,
    h('p', null, h('a', { href: '#/campaigns' }, '← Campaigns')),
    h('div', { class: 'page-head' }, h('div', null, title, h('p', { class: 'status-line' }, 'Status: ', statusEl)), actions),
    reason, err,
    section('Progress', progress, figures),
    h('div', { class: 'grid-2' }, section('Outcomes', outcomeChart), section('Calls per hour', hourChart)),
    section('Calls in progress', live),
    h('div', { class: 'grid-2' },
      section('Preflight', h('button', { type: 'button', class: 'secondary', onclick: () => { void runPreflight() } }, 'Run preflight'), preflight),
      section('Schedule and limits', config)),
    section('Recipients',
      h('div', { class: 'filters' }, h('label', { for: filter.id }, 'Status'), filter,
        h('button', { type: 'button', class: 'secondary', onclick: () => { void exportCsv() } }, 'Export CSV')),
      recipients))

  function renderActions (b) {
    replace(actions, ACTIONS.filter(a => a.from.includes(b.status)).map(a =>
      h('button', { type: 'button', class: a.danger ? 'danger' : '', onclick: () => { void act(a) } }, a.label)))
  }

  async function act (a) {
    if (!await confirmDialog(a.title, a.text, a.verb)) return
    try {
      const r = await post(`/batch-calls/${id}/${a.action}`)
      show(r.data)
      state.lastDetail = 0
      // The pressed button was replaced: keep keyboard focus in the action bar.
      actions.querySelector('button')?.focus()
      toast(`Campaign ${r.data.status}.`)
    } catch (e) {
      showError(err, e)
    }
  }

  function renderProgress (b) {
    const done = doneOf(b)
    replace(progress, progressBar(done, b.total_contacts, 'Campaign progress'))
    const fig = (k, v) => [h('dt', null, k), h('dd', null, v)]
    replace(figures,
      fig('Recipients', fmtNum(b.total_contacts)), fig('Called', fmtNum(b.called)), fig('Pending', fmtNum(b.pending)),
      fig('In progress', fmtNum(b.in_progress_calls)), fig('Cost', fmtUsd(b.total_cost_usd)),
      fig('Average call', fmtDuration(b.average_duration_seconds)), fig('Started', fmtTime(b.started_at, b.timezone)),
      fig(b.completed_at ? 'Completed' : 'Estimated end', fmtTime(b.completed_at ?? b.estimated_completion_at, b.timezone)))
    replace(outcomeChart, barsChart('Outcomes', [
      { label: 'answered', value: b.successful_contacts, cls: 'bar-answered' },
      { label: 'voicemail', value: b.voicemail_contacts, cls: 'bar-voicemail' },
      { label: 'no answer', value: b.no_answer_contacts, cls: 'bar-no-answer' },
      { label: 'failed', value: b.failed_contacts, cls: 'bar-failed' },
      { label: 'skipped', value: b.skipped_contacts, cls: 'bar-skipped' }
    ]))
  }

  async function renderConfig (b) {
    let next = []
    if (!TERMINAL.has(b.status)) next = (await get(`/batch-calls/${id}/calling-windows`, { count: 3 }).catch(() => ({ data: [] }))).data
    const kv = (k, v) => [h('dt', null, k), h('dd', null, v)]
    replace(config, h('dl', { class: 'kv' },
      kv('Window', windowSummary(b)),
      kv('Start', b.schedule_type === 'scheduled' ? fmtTime(b.scheduled_at, b.timezone) : 'immediately when started'),
      kv('Next windows', next.length ? h('ul', { class: 'plain' }, next.map(w => h('li', null, windowText(w, b.timezone)))) : '—'),
      kv('Concurrent calls', fmtNum(b.max_concurrent_calls)),
      kv('Calls per day', b.max_calls_per_day === null ? 'no cap' : fmtNum(b.max_calls_per_day)),
      kv('Retries', b.retry_failed ? `${b.max_retry_attempts} after ${b.retry_delay_minutes} min, on ${b.retry_on.join(', ')}` : 'off'),
      kv('Caller ids', `${b.phone_number_ids.length} (${b.phone_rotation_strategy.replace('_', ' ')})`),
      kv('Cost cap', b.max_cost_usd === null ? 'none' : fmtUsd(b.max_cost_usd))))
  }

  function show (b) {
    state.batch = b
    title.textContent = b.name
    replace(statusEl, badge(b.status))
    reason.hidden = !b.status_reason
    reason.textContent = b.status_reason ?? ''
    renderActions(b)
    renderProgress(b)
  }

  async function loadRecipients () {
    const r = await get(`/batch-calls/${id}/contacts`, { limit: PAGE, offset: state.recipientsOffset, status: filter.value })
    replace(recipients,
      table('Recipients', [
        { label: 'Phone', cell: x => x.phone_number },
        { label: 'Name', cell: x => [x.first_name, x.last_name].filter(Boolean).join(' ') || '—' },
        { label: 'Status', cell: x => badge(x.call_status) },
        { label: 'Attempts', class: 'num', cell: x => fmtNum(x.attempts) },
        { label: 'Last outcome', cell: x => x.last_outcome ?? '—' },
        { label: 'Called', cell: x => fmtTime(x.called_at, state.batch?.timezone) },
        { label: 'Next attempt', cell: x => fmtTime(x.next_attempt_at, state.batch?.timezone) }
      ], r.data, filter.value ? `No recipient is ${filter.value.replace('_', ' ')}.` : 'No recipients yet.'),
      pager(r.pagination, o => { state.recipientsOffset = o; void loadRecipients().catch(e => showError(err, e)) }, 'Recipient pages'))
  }

  async function loadLive (b) {
    if (b.in_progress_calls === 0) { replace(live, h('p', { class: 'empty' }, 'No call in progress.')); return }
    const [ringing, talking] = await Promise.all(['ringing', 'in_progress'].map(s => get('/calls', { batch_id: id, status: s, limit: 50 })))
    replace(live, table('Calls in progress', [
      { label: 'To', cell: c => c.to },
      { label: 'From', cell: c => c.from },
      { label: 'Status', cell: c => badge(c.status) },
      { label: 'Attempt', class: 'num', cell: c => fmtNum(c.attempt) },
      { label: 'Started', cell: c => fmtTime(c.started_at, b.timezone) }
    ], [...talking.data, ...ringing.data], 'No call in progress.'))
  }

  async function loadChart (b) {
    const calls = await getAll('/calls', { batch_id: id }, CHART_CALLS)
    replace(hourChart, columnsChart('Calls started per hour', perHour(calls, b.timezone)),
      calls.length >= CHART_CALLS ? h('p', { class: 'hint' }, `The latest ${CHART_CALLS} calls.`) : null)
  }

  async function runPreflight () {
    replace(preflight, h('p', { class: 'muted' }, 'Running preflight…'))
    try {
      const r = await post(`/batch-calls/${id}/preflight`)
      replace(preflight, h('div', { 'data-testid': 'preflight-report' }, kvView(r.data)))
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405) && e.details?.resource !== 'batch') replace(preflight, h('p', { class: 'muted' }, 'Preflight unavailable on this server.'))
      else { replace(preflight); showError(err, e) }
    }
  }

  async function exportCsv () {
    try {
      const res = await request('GET', `/batch-calls/${id}/contacts`, { accept: 'text/csv', raw: true, query: { status: filter.value } })
      const href = URL.createObjectURL(await res.blob())
      const a = h('a', { href, download: `${id}-recipients${filter.value ? `-${filter.value}` : ''}.csv`, hidden: true })
      document.body.append(a)
      a.click()
      a.remove()
      setTimeout(() => URL.revokeObjectURL(href), 10_000)
    } catch (e) {
      showError(err, e)
    }
  }

  /**
   * The batch every 3 s; the recipients page and calls in progress when its status changed, when its
   * counters moved (at most every 8 s) or every 30 s; the chart at most every 30 s. About 50
   * requests a minute while a campaign runs, half the default per-key limit. Stops after the
   * refresh that sees a final status.
   */
  async function tick () {
    let b
    try {
      b = (await get(`/batch-calls/${id}`)).data
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e
      replace(root, h('h1', null, 'Campaign not found'), h('p', null, `No campaign ${id} in this organization. `, h('a', { href: '#/campaigns' }, 'Back to the campaigns')))
      return false
    }
    const key = [b.completed_contacts, b.skipped_contacts, b.in_progress_calls, b.called].join('|')
    const first = state.batch === null
    const statusChanged = !first && state.batch.status !== b.status
    const changed = key !== state.key
    state.key = key
    show(b)
    err.hidden = true
    const now = Date.now()
    const terminal = TERMINAL.has(b.status)
    const since = now - state.lastDetail
    if (first || statusChanged || (changed && since >= 8000) || since >= 30_000) {
      state.lastDetail = now
      await Promise.all([loadRecipients(), loadLive(b)])
    }
    if (first || terminal || (changed && now - state.lastChart >= 30_000)) {
      state.lastChart = now
      await loadChart(b)
    }
    const configKey = JSON.stringify(CONFIG_FIELDS.map(f => b[f]))
    if (first || statusChanged || configKey !== state.configKey || now - state.lastConfig >= 60_000) {
      state.configKey = configKey
      state.lastConfig = now
      await renderConfig(b)
    }
    return !terminal
  }

  filter.addEventListener('change', () => { state.recipientsOffset = 0; void loadRecipients().catch(e => showError(err, e)) })
  return poll(tick, 3000, e => showError(err, e))
}
