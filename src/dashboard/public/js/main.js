/* global document, window */
// Sign-in and the hash router. Each page is `render(main, params) → cleanup?`; the cleanup stops
// the page's polling when the operator navigates away.
import { ApiError, request, session } from './api.js'
import { field, h, replace, showError } from './dom.js'
import { renderCampaigns } from './pages/campaigns.js'
import { renderCampaign } from './pages/campaign.js'
import { renderNewCampaign } from './pages/newCampaign.js'
import { renderAgents } from './pages/agents.js'
import { renderNumbers } from './pages/numbers.js'
import { renderContacts } from './pages/contacts.js'

const main = document.getElementById('main')
const nav = document.getElementById('nav')
let cleanup = null

const ROUTES = [
  [/^#?\/?$/, renderCampaigns, 'Campaigns'],
  [/^#\/campaigns$/, renderCampaigns, 'Campaigns'],
  [/^#\/campaigns\/new$/, renderNewCampaign, 'New campaign'],
  [/^#\/campaigns\/([^/]+)$/, renderCampaign, 'Campaign'],
  [/^#\/agents$/, renderAgents, 'Agents'],
  [/^#\/numbers$/, renderNumbers, 'Numbers'],
  [/^#\/contacts$/, renderContacts, 'Contacts']
]

function signInForm (notice) {
  nav.hidden = true
  const input = h('input', { type: 'password', name: 'key', autocomplete: 'off', required: true, spellcheck: 'false', placeholder: 'truedy_…' })
  const err = h('p', { class: 'alert', role: 'alert', hidden: true })
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h('p', null, 'Paste an API key of your organization. It stays in this browser tab only (session storage) and is sent with every API request.'),
    notice ? h('p', { class: 'alert', role: 'alert' }, notice) : null,
    field('API key', input, '`truedy serve` prints one on first start; `npx truedy keys create --org NAME` makes more.'),
    err,
    h('button', { type: 'submit' }, 'Sign in'))
  form.addEventListener('submit', async ev => {
    ev.preventDefault()
    err.hidden = true
    const key = input.value.trim()
    try {
      await request('GET', '/agents', { query: { limit: 1 }, key })
      session.set(key)
      route(true)
    } catch (e) {
      showError(err, e instanceof ApiError && e.status === 401 ? new Error('This key is not valid (unknown or revoked).') : e)
    }
  })
  replace(main, form)
  input.focus()
}

/** Renders the page of the current hash; `focus` (after a navigation) moves focus to the new content. */
function route (focus = false) {
  cleanup?.()
  cleanup = null
  if (!session.key) { signInForm(); return }
  nav.hidden = false
  const hash = window.location.hash
  for (const [re, render, title] of ROUTES) {
    const m = re.exec(hash)
    if (!m) continue
    document.title = `${title} · Truedy`
    for (const a of nav.querySelectorAll('a')) {
      if (a.getAttribute('href') === (hash || '#/campaigns')) a.setAttribute('aria-current', 'page')
      else a.removeAttribute('aria-current')
    }
    main.replaceChildren()
    cleanup = render(main, m.slice(1).map(decodeURIComponent)) ?? null
    if (focus) main.focus({ preventScroll: true })
    return
  }
  replace(main, h('h1', null, 'Not found'), h('p', null, h('a', { href: '#/campaigns' }, 'Back to the campaigns')))
}

session.onUnauthorized = () => {
  session.clear()
  cleanup?.()
  cleanup = null
  signInForm('The API refused the key (401). Sign in again.')
}

document.getElementById('sign-out').addEventListener('click', () => {
  session.clear()
  window.location.hash = ''
  route()
})
window.addEventListener('hashchange', () => { route(true) })
route()
