// A create form posting to the API: the 422 items land next to their fields, other errors above.
import { ApiError } from './api.js'
import { clearFieldErrors, h, showError, showFieldErrors } from './dom.js'

/**
 * `controls` are `field(...)`/`fieldset(...)` nodes whose controls are named after API fields.
 * `send(form)` makes the request(s); `done(result)` runs after success (the form is then reset).
 */
export function apiForm ({ title, controls, submitLabel, send, done, alias }) {
  const summary = h('div', { class: 'alert', role: 'alert', tabindex: -1, hidden: true })
  const submit = h('button', { type: 'submit' }, submitLabel)
  const titleId = `form-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`
  const form = h('form', { class: 'card form', novalidate: true, 'aria-labelledby': titleId },
    h('h2', { id: titleId }, title), summary, controls, h('div', { class: 'actions' }, submit))
  form.addEventListener('submit', async ev => {
    ev.preventDefault()
    clearFieldErrors(form, summary)
    submit.disabled = true
    try {
      const r = await send(form)
      form.reset()
      await done?.(r)
    } catch (e) {
      if (e instanceof ApiError && e.detail.length > 0) showFieldErrors(form, summary, e.detail, alias)
      else { showError(summary, e); summary.focus() }
    } finally {
      submit.disabled = false
    }
  })
  return form
}

/** The value of the control named `name` in `form`, trimmed; undefined when empty. */
export function val (form, name) {
  const v = form.elements.namedItem(name)?.value?.trim() ?? ''
  return v === '' ? undefined : v
}
