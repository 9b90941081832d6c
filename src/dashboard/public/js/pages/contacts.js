// Contact folders and contacts: lists with search and paging, create forms, CSV import with progress.
import { ApiError, get, getAll, post, upload } from '../api.js'
import { choice, clearFieldErrors, field, fieldset, fmtNum, fmtTime, h, pager, replace, showError, showFieldErrors, table, toast } from '../dom.js'
import { apiForm, val } from '../forms.js'

const PAGE = 25

export function renderContacts (root) {
  const err = h('p', { class: 'alert', role: 'alert', hidden: true })
  const folders = h('div')
  const contacts = h('div')
  const folderFilter = h('select', { id: 'contacts-folder', name: 'folder_filter' })
  const search = h('input', { id: 'contacts-search', type: 'search', name: 'search', autocomplete: 'off' })
  const folderSelects = []
  let offset = 0

  const folderOptions = (list, blank) => [h('option', { value: '' }, blank), list.map(f => h('option', { value: f.id }, `${f.name} (${fmtNum(f.contact_count)})`))]

  async function loadFolders () {
    const list = await getAll('/contacts/folders')
    replace(folders, table('Folders', [
      { label: 'Name', cell: f => [f.name, f.is_default ? h('span', { class: 'muted' }, ' (default)') : null] },
      { label: 'Contacts', class: 'num', cell: f => fmtNum(f.contact_count) },
      { label: 'Description', cell: f => f.description ?? '—' },
      { label: 'Id', cell: f => h('code', null, f.id) }
    ], list, 'No folder yet: importing without a folder makes the default one.'))
    const keep = folderFilter.value
    replace(folderFilter, folderOptions(list, 'all folders'))
    folderFilter.value = keep
    for (const s of folderSelects) { const v = s.value; replace(s, folderOptions(list, 'the default folder')); s.value = v }
  }

  async function loadContacts () {
    const r = await get('/contacts', { limit: PAGE, offset, folder_id: folderFilter.value, search: search.value.trim() })
    replace(contacts, table('Contacts', [
      { label: 'Phone', cell: c => c.phone_number },
      { label: 'Name', cell: c => c.name || '—' },
      { label: 'Email', cell: c => c.email ?? '—' },
      { label: 'Calls', class: 'num', cell: c => fmtNum(c.call_count) },
      { label: 'Last call', cell: c => (c.last_called_at ? `${fmtTime(c.last_called_at)} (${c.last_call_outcome ?? '—'})` : '—') }
    ], r.data, 'No contact matches.'),
    pager(r.pagination, o => { offset = o; void loadContacts().catch(e => showError(err, e)) }, 'Contact pages'))
  }
  const reload = () => Promise.all([loadFolders(), loadContacts()]).catch(e => showError(err, e))

  const folderForm = apiForm({
    title: 'Create a folder',
    submitLabel: 'Create folder',
    controls: [field('Name', h('input', { name: 'name', required: true, autocomplete: 'off' })), field('Description', h('input', { name: 'description', autocomplete: 'off' }))],
    send: f => post('/contacts/folders', { name: val(f, 'name') ?? '', ...(val(f, 'description') ? { description: val(f, 'description') } : {}) }),
    done: async r => { toast(`Folder ${r.data.name} created.`); await reload() }
  })

  const contactFolder = h('select', { name: 'folder_id' })
  folderSelects.push(contactFolder)
  const contactForm = apiForm({
    title: 'Add a contact',
    submitLabel: 'Add contact',
    controls: [h('div', { class: 'grid-2' },
      field('Phone number', h('input', { name: 'phone_number', required: true, inputmode: 'tel', autocomplete: 'off', placeholder: '+15551234567' })),
      field('Folder', contactFolder),
      field('First name', h('input', { name: 'first_name', autocomplete: 'off' })),
      field('Last name', h('input', { name: 'last_name', autocomplete: 'off' })),
      field('Email', h('input', { name: 'email', type: 'email', autocomplete: 'off' })))],
    send: f => {
      const body = { phone_number: val(f, 'phone_number') ?? '' }
      for (const n of ['folder_id', 'first_name', 'last_name', 'email']) if (val(f, n)) body[n] = val(f, n)
      return post('/contacts', body)
    },
    done: async () => { toast('Contact added.'); await reload() }
  })

  // The import form: its progress is the upload's (the server answers once every row is read).
  const importFolder = h('select', { name: 'folder_id', id: 'import-folder' })
  folderSelects.push(importFolder)
  const file = h('input', { type: 'file', name: 'file', id: 'import-file', accept: '.csv,text/csv' })
  const bar = h('progress', { max: 1, value: 0, hidden: true, 'aria-label': 'Import progress' })
  const importStatus = h('div', { 'aria-live': 'polite', 'data-testid': 'import-status' })
  const importSummary = h('div', { class: 'alert', role: 'alert', tabindex: -1, hidden: true })
  const importButton = h('button', { type: 'submit' }, 'Import')
  const importForm = h('form', { class: 'card form', novalidate: true, 'aria-labelledby': 'import-title' },
    h('h2', { id: 'import-title' }, 'Import a CSV'), importSummary,
    field('CSV file', file, 'Header row with a phone (or phone_number) column; first_name, last_name, name, email optional; other columns become custom fields.'),
    field('Folder', importFolder),
    fieldset('Existing contacts', 'overwrite_existing', choice('checkbox', 'overwrite_existing', 'true', 'Update contacts whose number the folder already has', false)),
    bar, importStatus, h('div', { class: 'actions' }, importButton))
  importForm.addEventListener('submit', async ev => {
    ev.preventDefault()
    clearFieldErrors(importForm, importSummary)
    if (file.files.length === 0) { showFieldErrors(importForm, importSummary, [{ loc: ['body', 'file'], msg: 'Choose a CSV file.' }]); return }
    importButton.disabled = true
    bar.hidden = false
    bar.removeAttribute('value')
    replace(importStatus, `Uploading ${file.files[0].name}…`)
    try {
      const overwrite = importForm.querySelector('input[name="overwrite_existing"]').checked
      const r = (await upload('/contacts/import', { folder_id: importFolder.value, overwrite_existing: overwrite }, file.files[0], (sent, total) => {
        bar.max = total
        bar.value = sent
        replace(importStatus, sent < total ? `Uploading… ${Math.floor((100 * sent) / total)} %` : 'Uploaded; the server is reading the rows…')
      })).data
      replace(importStatus, `Imported ${fmtNum(r.imported)}, updated ${fmtNum(r.updated)}, skipped ${fmtNum(r.skipped)}, errors ${fmtNum(r.errors)}.`,
        r.error_details.length ? h('ul', null, r.error_details.slice(0, 20).map(d => h('li', null, `row ${d.row}${d.phone ? ` (${d.phone})` : ''}: ${d.reason}`))) : null)
      importForm.reset()
      await reload()
    } catch (e) {
      replace(importStatus)
      if (e instanceof ApiError && e.detail.length > 0) showFieldErrors(importForm, importSummary, e.detail)
      else { showError(importSummary, e); importSummary.focus() }
    } finally {
      bar.hidden = true
      importButton.disabled = false
    }
  })

  let searchTimer = null
  search.addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => { offset = 0; void loadContacts().catch(e => showError(err, e)) }, 300) })
  folderFilter.addEventListener('change', () => { offset = 0; void loadContacts().catch(e => showError(err, e)) })

  replace(root, h('h1', null, 'Contacts'), err,
    h('section', { class: 'card', 'aria-labelledby': 'folders-title' }, h('h2', { id: 'folders-title' }, 'Folders'), folders),
    h('div', { class: 'grid-2' }, importForm, h('div', null, folderForm, contactForm)),
    h('section', { class: 'card', 'aria-labelledby': 'contacts-title' }, h('h2', { id: 'contacts-title' }, 'Contacts'),
      h('div', { class: 'filters' }, h('label', { for: folderFilter.id }, 'Folder'), folderFilter, h('label', { for: search.id }, 'Search'), search),
      contacts))
  void reload()
  return () => { clearTimeout(searchTimer) }
}
