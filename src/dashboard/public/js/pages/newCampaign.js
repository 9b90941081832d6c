/* global Intl, window */
// Create a campaign. With a CSV the dashboard makes the batch first (a configuration the API
// refuses writes nothing), then imports the file into a folder of its own with upload progress and
// adds that folder's contacts; if the file is refused, the draft and the folder are deleted again.
import { ApiError, getAll, post, request, upload } from '../api.js'
import { choice, clearFieldErrors, field, fieldset, fmtNum, h, replace, showError, showFieldErrors, toast } from '../dom.js'
import { windowText } from './campaigns.js'

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']
/** The retryable outcomes, with the API's default set checked. */
const RETRY_ON = [['no_answer', 'no answer', true], ['busy', 'busy', true], ['failed', 'failed', true], ['voicemail', 'voicemail', false], ['unknown', 'unknown', false]]
/** Request aliases and fields the form shows under another control. */
const ALIAS = { concurrency: 'max_concurrent_calls', retry_attempts: 'max_retry_attempts', contacts: 'file', contact_ids: 'file', phone_number_ids: 'phone_number_ids' }

const input = (name, attrs = {}) => h('input', { name, id: `nc-${name}`, ...attrs })
const select = (name, options, value) => h('select', { name, id: `nc-${name}` }, options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)))
const intOrUndef = v => (v.trim() === '' ? undefined : Number(v))

function browserZone () {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC' } catch { return 'UTC' }
}

function zones () {
  try { return Intl.supportedValuesOf('timeZone') } catch { return ['UTC'] }
}

export function renderNewCampaign (root) {
  const agent = select('agent_id', [['', 'Loading agents…']], '')
  const numbers = h('div', { class: 'choices' }, h('span', { class: 'muted' }, 'Loading numbers…'))
  const folder = select('contact_folder_id', [['', 'Loading folders…']], '')
  const file = input('file', { type: 'file', accept: '.csv,text/csv' })
  const scheduledAt = input('scheduled_at', { type: 'datetime-local' })
  const zoneList = h('datalist', { id: 'nc-zones' }, zones().map(z => h('option', { value: z })))
  const summary = h('div', { class: 'alert', role: 'alert', tabindex: -1, hidden: true, 'data-testid': 'form-errors' })
  const status = h('div', { 'aria-live': 'polite' })
  const uploadBar = h('progress', { max: 1, value: 0, hidden: true, 'aria-label': 'CSV upload' })
  const preview = h('div', { 'aria-live': 'polite' })
  const submit = h('button', { type: 'submit' }, 'Create campaign')

  const form = h('form', { class: 'card form', novalidate: true, 'aria-labelledby': 'nc-title' },
    h('h1', { id: 'nc-title' }, 'New campaign'),
    summary,
    h('div', { class: 'grid-2' },
      field('Name', input('name', { required: true, maxlength: 255, autocomplete: 'off' })),
      field('Agent', agent)),
    h('fieldset', { class: 'field', 'data-field': 'phone_number_ids' }, h('legend', null, 'Caller ids'),
      h('p', { class: 'hint' }, 'None checked: the agent\'s outbound numbers.'), numbers, h('p', { class: 'error', id: 'nc-numbers-error', hidden: true })),
    fieldset('Contacts', 'contact_source', choice('radio', 'contact_source', 'csv', 'Upload a CSV', true), choice('radio', 'contact_source', 'folder', 'An existing folder', false)),
    h('div', { class: 'grid-2' },
      field('CSV file', file, 'Header row with a phone (or phone_number) column; first_name, last_name, email optional; other columns become variables.'),
      field('Folder', folder)),
    h('h2', null, 'When to call'),
    h('div', { class: 'grid-3' },
      field('Start', select('schedule_type', [['immediate', 'As soon as it is started'], ['scheduled', 'At a set time']], 'immediate')),
      field('Start at (your local time)', scheduledAt),
      field('Timezone', input('timezone', { value: browserZone(), list: 'nc-zones', autocomplete: 'off' }), 'IANA name, e.g. America/New_York'),
      field('Daily window from', input('start_time', { type: 'time' }), 'Empty: the whole day'),
      field('Daily window until', input('end_time', { type: 'time' }), 'Earlier than "from": crosses midnight')),
    zoneList,
    fieldset('Working days', 'working_days', DAYS.map((d, i) => choice('checkbox', 'working_days', String(i + 1), d, i < 5))),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => { void showPreview() } }, 'Preview calling windows')),
    preview,
    h('h2', null, 'Limits and retries'),
    h('div', { class: 'grid-3' },
      field('Concurrent calls', input('max_concurrent_calls', { type: 'number', min: 1, max: 100, value: 10, inputmode: 'numeric' })),
      field('Calls per day', input('max_calls_per_day', { type: 'number', min: 1, inputmode: 'numeric' }), 'Empty: no cap'),
      field('Number rotation', select('phone_rotation_strategy', [['random', 'random'], ['round_robin', 'round robin'], ['sequential', 'sequential']], 'random')),
      field('Cost cap (USD)', input('max_cost_usd', { type: 'number', min: 0, step: '0.01', inputmode: 'decimal' }), 'Pauses the campaign when reached'),
      field('Retries after the first attempt', input('max_retry_attempts', { type: 'number', min: 0, max: 3, value: 0, inputmode: 'numeric' }), '0–3; 0 turns retries off'),
      field('Minutes between attempts', input('retry_delay_minutes', { type: 'number', min: 0, max: 10080, value: 60, inputmode: 'numeric' }))),
    fieldset('Retry when the outcome is', 'retry_on', RETRY_ON.map(([v, l, on]) => choice('checkbox', 'retry_on', v, l, on))),
    uploadBar, status,
    h('div', { class: 'actions' }, submit))
  replace(root, form)

  const value = name => form.elements.namedItem(name)?.value ?? ''
  const source = () => form.querySelector('input[name="contact_source"]:checked')?.value ?? 'csv'
  const syncSource = () => {
    file.closest('.field').hidden = source() !== 'csv'
    folder.closest('.field').hidden = source() !== 'folder'
  }
  const syncSchedule = () => { scheduledAt.closest('.field').hidden = value('schedule_type') !== 'scheduled' }
  form.addEventListener('change', () => { syncSource(); syncSchedule() })
  syncSource()
  syncSchedule()

  void (async () => {
    try {
      const [agents, nums, folders] = await Promise.all([getAll('/agents'), getAll('/telephony/numbers'), getAll('/contacts/folders')])
      replace(agent, h('option', { value: '' }, agents.length ? 'Choose an agent' : 'No agent yet: create one first'), agents.map(a => h('option', { value: a.id }, `${a.name} (${a.id})`)))
      if (agents.length === 1) agent.value = agents[0].id
      replace(numbers, nums.length ? nums.map(n => choice('checkbox', 'phone_number_ids', n.id, `${n.phone_number}${n.friendly_name ? ` · ${n.friendly_name}` : ''}`, false)) : h('span', { class: 'muted' }, 'No number yet.'))
      replace(folder, h('option', { value: '' }, 'Choose a folder'), folders.map(f => h('option', { value: f.id }, `${f.name} (${fmtNum(f.contact_count)} contacts)`)))
    } catch (e) { showError(summary, e) }
  })()

  function windowFields () {
    const start = value('start_time')
    const end = value('end_time')
    return {
      timezone: value('timezone').trim() || undefined,
      start_time: start || undefined,
      end_time: end || undefined,
      working_days: [...form.querySelectorAll('input[name="working_days"]:checked')].map(c => Number(c.value))
    }
  }

  function body () {
    const schedule = value('schedule_type')
    const at = value('scheduled_at')
    const maxCost = value('max_cost_usd')
    const retries = intOrUndef(value('max_retry_attempts'))
    const ids = [...form.querySelectorAll('input[name="phone_number_ids"]:checked')].map(c => c.value)
    return {
      name: value('name').trim(),
      agent_id: value('agent_id'),
      ...(ids.length ? { phone_number_ids: ids } : {}),
      phone_rotation_strategy: value('phone_rotation_strategy'),
      contact_source: source(),
      ...(source() === 'folder' && value('contact_folder_id') ? { contact_folder_id: value('contact_folder_id') } : {}),
      schedule_type: schedule,
      ...(schedule === 'scheduled' && at ? { scheduled_at: new Date(at).toISOString() } : {}),
      ...windowFields(),
      max_concurrent_calls: intOrUndef(value('max_concurrent_calls')),
      max_calls_per_day: intOrUndef(value('max_calls_per_day')),
      max_cost_usd: maxCost.trim() === '' ? undefined : Number(maxCost),
      retry_failed: (retries ?? 0) > 0,
      max_retry_attempts: retries,
      retry_delay_minutes: intOrUndef(value('retry_delay_minutes')),
      retry_on: [...form.querySelectorAll('input[name="retry_on"]:checked')].map(c => c.value)
    }
  }

  /** An ApiError shown next to its fields (422), on the agent field (404 agent), or above the form. */
  function fail (e) {
    if (e instanceof ApiError && e.detail.length > 0) { showFieldErrors(form, summary, e.detail, ALIAS); return }
    if (e instanceof ApiError && e.status === 404 && e.details?.resource === 'agent') {
      showFieldErrors(form, summary, [{ loc: ['body', 'agent_id'], msg: 'This agent does not exist (any more).' }]); return
    }
    clearFieldErrors(form, summary)
    showError(summary, e)
    summary.focus()
  }

  async function showPreview () {
    try {
      const r = await post('/calling-windows/preview', { ...windowFields(), count: 5 })
      clearFieldErrors(form, summary)
      const tz = value('timezone').trim() || 'UTC'
      replace(preview, r.data.length ? h('ul', { class: 'plain' }, r.data.map(w => h('li', null, `${windowText(w, tz)} (local date ${w.local_date})`))) : h('p', null, 'No calling window ahead.'))
    } catch (e) { fail(e) }
  }

  /** The CSV into a new folder, then into the batch; undoes the draft and the folder when the file is refused. */
  async function importCsv (batch) {
    const f = (await post('/contacts/folders', { name: `${batch.name} (upload ${new Date().toISOString().slice(0, 16).replace('T', ' ')})`, description: `CSV for campaign ${batch.id}` })).data
    try {
      uploadBar.hidden = false
      replace(status, `Uploading ${file.files[0].name}…`)
      const r = (await upload('/contacts/import', { folder_id: f.id }, file.files[0], (sent, total) => {
        uploadBar.max = total
        uploadBar.value = sent
        if (sent === total) replace(status, 'Upload done; the server is reading the rows…')
      })).data
      const added = (await post(`/batch-calls/${batch.id}/contacts`, { contact_folder_id: f.id })).data
      return { imported: r.imported + r.updated, skipped: r.skipped + r.errors, added: added.added_count }
    } catch (e) {
      await request('DELETE', `/batch-calls/${batch.id}`).catch(() => {})
      await request('DELETE', `/contacts/folders/${f.id}`).catch(() => {})
      throw e
    } finally {
      uploadBar.hidden = true
    }
  }

  form.addEventListener('submit', async ev => {
    ev.preventDefault()
    clearFieldErrors(form, summary)
    if (source() === 'csv' && file.files.length === 0) {
      showFieldErrors(form, summary, [{ loc: ['body', 'file'], msg: 'Choose a CSV file.' }]); return
    }
    if (source() === 'folder' && !value('contact_folder_id')) {
      showFieldErrors(form, summary, [{ loc: ['body', 'contact_folder_id'], msg: 'Choose a folder.' }]); return
    }
    submit.disabled = true
    try {
      const batch = (await post('/batch-calls', body())).data
      if (source() === 'csv') {
        const r = await importCsv(batch)
        toast(`Campaign created with ${fmtNum(r.added)} recipients${r.skipped ? `; ${fmtNum(r.skipped)} CSV rows skipped` : ''}.`)
      } else {
        toast(`Campaign created with ${fmtNum(batch.total_contacts)} recipients.`)
      }
      window.location.hash = `#/campaigns/${batch.id}`
    } catch (e) {
      replace(status)
      fail(e)
    } finally {
      submit.disabled = false
    }
  })
  return () => {}
}
