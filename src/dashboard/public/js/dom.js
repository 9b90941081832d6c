/* global document, Intl, Node, CSS */
// Small DOM helpers. Text always goes in as text nodes (never innerHTML), so data from the API
// cannot inject markup; no inline styles or handlers, so the page runs under a strict CSP.

/** `h('a', { href, class, onclick }, 'text', child)`: an element; false/null/undefined props and children are skipped. */
export function h (tag, props, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v)
    else if (k === 'class') el.className = v
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  append(el, children)
  return el
}

export function append (el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue
    el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return el
}

/** Replaces the children of `el`. */
export function replace (el, ...children) {
  el.replaceChildren()
  return append(el, children)
}

let seq = 0
/** A fresh id for label/aria wiring. */
export const uid = prefix => `${prefix}-${++seq}`

const num = new Intl.NumberFormat()
export const fmtNum = n => (n === null || n === undefined ? '—' : num.format(n))
export const fmtUsd = n => (n === null || n === undefined ? '—' : `$${Number(n).toFixed(n >= 100 ? 0 : 2)}`)
export const fmtPct = (part, whole) => (whole > 0 ? `${Math.floor((100 * part) / whole)} %` : '0 %')

/** An instant shown in `timeZone` (the batch's zone; the browser's when absent), with the zone's short name. */
export function fmtTime (iso, timeZone) {
  if (!iso) return '—'
  const opts = { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' }
  try {
    return new Intl.DateTimeFormat(undefined, { ...opts, timeZone }).format(new Date(iso))
  } catch {
    return new Intl.DateTimeFormat(undefined, opts).format(new Date(iso))
  }
}

export function fmtDuration (seconds) {
  if (!seconds) return '0 s'
  const m = Math.floor(seconds / 60)
  const s = Math.round(seconds % 60)
  return m > 0 ? `${m} min ${s} s` : `${s} s`
}

/** A status pill; the class gives its colour, the text its meaning. */
export const badge = status => h('span', { class: `badge badge-${status}` }, status.replace('_', ' '))

/** A progress bar with its figures as text; `label` names it for assistive technology. */
export function progressBar (done, total, label) {
  const bar = h('progress', { max: Math.max(total, 1), value: done, 'aria-label': label })
  return h('div', { class: 'progress' }, bar, h('span', { class: 'progress-text', 'data-testid': 'progress-text' }, `${fmtNum(done)} / ${fmtNum(total)} · ${fmtPct(done, total)}`))
}

/** A short message in the shared live region. */
export function toast (message, kind = 'info') {
  const el = document.getElementById('toast')
  el.className = `toast toast-${kind} toast-shown`
  el.textContent = message
  clearTimeout(toast.timer)
  toast.timer = setTimeout(() => { el.className = 'toast' }, 5000)
}

/**
 * A modal confirmation (native <dialog>: focus is trapped and Escape cancels). Resolves true only
 * when the operator presses the confirming button.
 */
export function confirmDialog (title, message, confirmLabel) {
  return new Promise(resolve => {
    const titleId = uid('dlg')
    const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => { dlg.close('cancel') } }, 'Keep as is')
    const ok = h('button', { type: 'button', class: 'danger', onclick: () => { dlg.close('ok') } }, confirmLabel)
    const dlg = h('dialog', { 'aria-labelledby': titleId },
      h('h2', { id: titleId }, title), h('p', null, message), h('div', { class: 'actions' }, cancel, ok))
    dlg.addEventListener('close', () => { dlg.remove(); resolve(dlg.returnValue === 'ok') })
    document.body.append(dlg)
    dlg.showModal()
    cancel.focus()
  })
}

/** A labelled control: `<div class="field"><label>…</label>control<p class="hint"/><p class="error"/></div>`. */
export function field (label, control, hint) {
  const id = control.id || uid('f')
  control.id = id
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id)
  return h('div', { class: 'field', 'data-field': control.name || null },
    h('label', { for: id }, label), control, hintEl, h('p', { class: 'error', id: `${id}-error`, hidden: true }))
}

/** A group of controls (radio buttons, checkboxes) with a legend, an error slot like `field`. */
export function fieldset (legend, name, ...controls) {
  return h('fieldset', { class: 'field', 'data-field': name }, h('legend', null, legend), h('div', { class: 'choices' }, controls),
    h('p', { class: 'error', id: uid(`${name}-error`), hidden: true }))
}

/** A checkbox or radio with its label after it. */
export function choice (type, name, value, label, checked) {
  const id = uid(name)
  return h('span', { class: 'choice' }, h('input', { type, name, value, id, checked }), h('label', { for: id }, label))
}

/**
 * Shows the API's 422 items next to the fields they name (`loc[1]`, after aliases), marks the
 * controls invalid and focuses the first; items naming no field on the form go to `summary`.
 * Returns how many were placed next to a field.
 */
export function showFieldErrors (form, summary, detail, alias = {}) {
  clearFieldErrors(form, summary)
  const general = []
  let first = null
  let placed = 0
  for (const d of detail) {
    const name = alias[d.loc?.[1]] ?? d.loc?.[1]
    const box = name ? form.querySelector(`[data-field="${CSS.escape(String(name))}"]`) : null
    if (!box) { general.push(d); continue }
    const err = box.querySelector('.error')
    err.hidden = false
    err.textContent = err.textContent ? `${err.textContent} ${d.msg}` : d.msg
    for (const c of box.querySelectorAll('input, select, textarea')) {
      c.setAttribute('aria-invalid', 'true')
      c.setAttribute('aria-errormessage', err.id)
      first ??= c
    }
    placed++
  }
  if (general.length > 0) {
    replace(summary, h('ul', null, general.map(d => h('li', null, `${(d.loc ?? []).slice(1).join('.') || 'request'}: ${d.msg}`))))
    summary.hidden = false
  }
  first?.focus()
  return placed
}

export function clearFieldErrors (form, summary) {
  for (const e of form.querySelectorAll('.error')) { e.hidden = true; e.textContent = '' }
  for (const c of form.querySelectorAll('[aria-invalid]')) { c.removeAttribute('aria-invalid'); c.removeAttribute('aria-errormessage') }
  if (summary) { summary.hidden = true; summary.replaceChildren() }
}

/** Shows an error that is not about one field (network, 409, 5xx) in `box`. */
export function showError (box, e) {
  box.hidden = false
  replace(box, e?.status === 429
    ? `Too many requests: the API key's rate limit is reached; retrying in ${e.retryAfter ?? 1} s.`
    : `${e?.message ?? String(e)}${e?.code ? ` (${e.code})` : ''}`)
}

/** Previous/next paging for a list endpoint's `pagination`; `go(offset)` loads a page. */
export function pager (pagination, go, label) {
  if (!pagination) return null
  const { total, limit, offset } = pagination
  const from = total === 0 ? 0 : offset + 1
  const to = Math.min(offset + limit, total)
  return h('nav', { class: 'pager', 'aria-label': label },
    h('button', { type: 'button', class: 'secondary', disabled: offset === 0, onclick: () => go(Math.max(0, offset - limit)) }, 'Previous'),
    h('span', null, `${fmtNum(from)}–${fmtNum(to)} of ${fmtNum(total)}`),
    h('button', { type: 'button', class: 'secondary', disabled: !pagination.has_more, onclick: () => go(offset + limit) }, 'Next'))
}

/** A table from column definitions `[{ label, cell: row => node|string }]`; `empty` when no rows. */
export function table (caption, columns, rows, empty = 'Nothing yet.') {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty)
  return h('div', { class: 'table-wrap' }, h('table', null,
    h('caption', { class: 'sr-only' }, caption),
    h('thead', null, h('tr', null, columns.map(c => h('th', { scope: 'col', class: c.class }, c.label)))),
    h('tbody', null, rows.map(r => h('tr', null, columns.map(c => h('td', { class: c.class, 'data-label': c.label }, c.cell(r))))))))
}
