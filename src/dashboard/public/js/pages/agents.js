// Agents: the list and a create form.
import { getAll, post } from '../api.js'
import { badge, field, h, replace, showError, table, toast } from '../dom.js'
import { apiForm, val } from '../forms.js'

export function renderAgents (root) {
  const list = h('div')
  const err = h('p', { class: 'alert', role: 'alert', hidden: true })
  const load = async () => {
    const agents = await getAll('/agents')
    replace(list, table('Agents', [
      { label: 'Name', cell: a => a.name },
      { label: 'Id', cell: a => h('code', null, a.id) },
      { label: 'Status', cell: a => badge(a.status) },
      { label: 'Voice', cell: a => a.voice_id },
      { label: 'Outbound numbers', cell: a => a.outbound_phone_numbers.map(n => n.phone_number).join(', ') || '—' }
    ], agents, 'No agent yet.'))
  }
  const form = apiForm({
    title: 'Create an agent',
    submitLabel: 'Create agent',
    controls: [
      h('div', { class: 'grid-2' },
        field('Name', h('input', { name: 'name', required: true, maxlength: 255, autocomplete: 'off' })),
        field('Voice id', h('input', { name: 'voice_id', required: true, autocomplete: 'off' }), 'Any voice of your voice runtime, e.g. alloy')),
      field('System prompt', h('textarea', { name: 'system_prompt', rows: 4, required: true })),
      field('Greeting', h('input', { name: 'greeting', autocomplete: 'off' }), 'Optional first sentence')
    ],
    send: f => post('/agents', { name: val(f, 'name') ?? '', voice_id: val(f, 'voice_id') ?? '', system_prompt: val(f, 'system_prompt') ?? '', ...(val(f, 'greeting') ? { greeting: val(f, 'greeting') } : {}) }),
    done: async r => { toast(`Agent ${r.data.name} created.`); await load() }
  })
  replace(root, h('h1', null, 'Agents'), err, list, form)
  load().catch(e => showError(err, e))
  return () => {}
}
