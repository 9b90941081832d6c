// Phone numbers: the list, import (with the provider's credentials) and assignment to an agent.
import { getAll, post } from '../api.js'
import { field, h, replace, showError, table, toast } from '../dom.js'
import { apiForm, val } from '../forms.js'

/** The credential fields each provider type takes (API.md §2, "Phone numbers"). */
const CREDENTIALS = {
  simulator: [],
  twilio: [['account_sid', 'Account SID'], ['auth_token', 'Auth token']],
  custom_sip: [['sip_server', 'SIP server (host[:port])'], ['sip_username', 'SIP username'], ['sip_password', 'SIP password']],
  webhook: [['runtime_url', 'Runtime URL'], ['secret', 'Signing secret']]
}

export function renderNumbers (root) {
  const list = h('div')
  const err = h('p', { class: 'alert', role: 'alert', hidden: true })
  const agentSelect = h('select', { name: 'agent_id' })
  const numberSelect = h('select', { name: 'number_id' })
  let agents = []
  const load = async () => {
    const [nums, as] = await Promise.all([getAll('/telephony/numbers'), getAll('/agents')])
    agents = as
    const name = id => agents.find(a => a.id === id)?.name ?? id ?? '—'
    replace(list, table('Phone numbers', [
      { label: 'Number', cell: n => n.phone_number },
      { label: 'Name', cell: n => n.friendly_name ?? '—' },
      { label: 'Provider', cell: n => n.provider_type },
      { label: 'Outbound agent', cell: n => name(n.outbound_agent_id) },
      { label: 'Inbound agent', cell: n => name(n.inbound_agent_id) },
      { label: 'Id', cell: n => h('code', null, n.id) }
    ], nums, 'No number yet.'))
    replace(agentSelect, h('option', { value: '' }, 'Choose an agent'), agents.map(a => h('option', { value: a.id }, a.name)))
    replace(numberSelect, h('option', { value: '' }, 'Choose a number'), nums.map(n => h('option', { value: n.id }, n.phone_number)))
  }

  const provider = h('select', { name: 'provider_type' }, Object.keys(CREDENTIALS).map(p => h('option', { value: p }, p)))
  const creds = h('div', { class: 'grid-3' })
  const syncCreds = () => replace(creds, CREDENTIALS[provider.value].map(([n, l]) => field(l, h('input', { name: n, type: n.includes('password') || n.includes('token') || n === 'secret' ? 'password' : 'text', autocomplete: 'off' }))))
  provider.addEventListener('change', syncCreds)
  syncCreds()
  const importForm = apiForm({
    title: 'Import a number',
    submitLabel: 'Import number',
    controls: [
      h('div', { class: 'grid-3' },
        field('Phone number', h('input', { name: 'phone_number', required: true, inputmode: 'tel', autocomplete: 'off', placeholder: '+15551234567' }), 'E.164'),
        field('Provider', provider),
        field('Friendly name', h('input', { name: 'friendly_name', autocomplete: 'off' }))),
      creds
    ],
    send: f => {
      const body = { phone_number: val(f, 'phone_number') ?? '', provider_type: provider.value }
      for (const n of ['friendly_name', ...CREDENTIALS[provider.value].map(([n]) => n)]) if (val(f, n)) body[n] = val(f, n)
      return post('/telephony/numbers/import', body)
    },
    done: async r => { syncCreds(); toast(`Number ${r.data.phone_number} imported.`); await load() }
  })
  const assignForm = apiForm({
    title: 'Assign a number to an agent',
    submitLabel: 'Assign',
    controls: [h('div', { class: 'grid-3' },
      field('Number', numberSelect), field('Agent', agentSelect),
      field('As', h('select', { name: 'assignment_type' }, h('option', { value: 'outbound' }, 'outbound caller id'), h('option', { value: 'inbound' }, 'inbound'))))],
    send: f => post('/telephony/numbers/assign', { number_id: val(f, 'number_id') ?? '', agent_id: val(f, 'agent_id') ?? '', assignment_type: val(f, 'assignment_type') }),
    done: async () => { toast('Number assigned.'); await load() }
  })
  replace(root, h('h1', null, 'Phone numbers'), err, list, h('div', { class: 'grid-2' }, importForm, assignForm))
  load().catch(e => showError(err, e))
  return () => {}
}
