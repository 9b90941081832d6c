import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startApp, type TestApp } from '../helpers/app.js'
import { ProcessGroup, REPO_ROOT, type TruedyProcess } from '../helpers/processes.js'

const CHROMIUM = '/usr/bin/chromium'
/** Skipped only when the browser is absent and this is not CI (there, a missing browser fails the suite, like sipp and Redis). */
const NO_CHROMIUM = existsSync(CHROMIUM) || process.env.CI ? false : `${CHROMIUM} is absent: install the Debian package (apt-get install -y chromium; .ci/run does), or set CI=1 to make this a failure`
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'dashboard')
/** With UPDATE_SCREENSHOTS=1 the README's screenshots in docs/screenshots/ are refreshed from this run. */
const README_SHOTS: Readonly<Record<string, string>> = { 'campaign-1280.png': 'campaign-1280.png', 'campaign-390.png': 'campaign-390.png', 'new-campaign-errors-1280.png': 'new-campaign-1280.png' }

const RECIPIENTS = 30

/** A CSV of `n` recipients (numbers outside the simulator's fixed-outcome suffixes), one bad row. */
function csv (n: number): string {
  const rows = ['phone,first_name,last_name,plan']
  for (let i = 0; i < n; i++) rows.push(`+1415555${String(1000 + i)},Ada${i},Lovelace,gold`)
  rows.push('not-a-number,Bad,Row,none')
  return rows.join('\n') + '\n'
}

describe('dashboard files', () => {
  let t: TestApp
  before(async () => { t = await startApp('sqlite') })
  after(async () => { await t.close() })

  test('the page and its modules are public, typed, revalidated and under a strict CSP; the API still wants the key', async () => {
    const page = await t.app.inject({ url: '/' })
    assert.equal(page.statusCode, 200)
    assert.match(String(page.headers['content-type']), /^text\/html/)
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/)
    assert.doesNotMatch(String(page.headers['content-security-policy']), /unsafe-inline/)
    assert.equal(page.headers['cache-control'], 'no-cache')
    assert.doesNotMatch(page.body, /<script>|\sstyle=|\son[a-z]+=/i, 'no inline script, style or handler')
    const js = await t.app.inject({ url: '/dashboard/js/main.js' })
    assert.equal(js.statusCode, 200)
    assert.match(String(js.headers['content-type']), /^text\/javascript/)
    const again = await t.app.inject({ url: '/dashboard/js/main.js', headers: { 'if-none-match': String(js.headers.etag) } })
    assert.equal(again.statusCode, 304)
    const css = await t.app.inject({ url: '/dashboard/app.css' })
    assert.match(String(css.headers['content-type']), /^text\/css/)
    for (const url of ['/dashboard/../config.ts', '/dashboard/%2e%2e/routes/dashboard.ts', '/dashboard/nope.js', '/dashboard/index.html']) {
      assert.equal((await t.app.inject({ url })).statusCode, 404, url)
    }
    assert.equal((await t.call('GET', '/batch-calls', undefined, { key: null })).status, 401)
  })

  test('every module the page imports is served', async () => {
    const seen = new Set<string>()
    const queue = ['/dashboard/js/main.js']
    while (queue.length > 0) {
      const url = queue.shift()!
      if (seen.has(url)) continue
      seen.add(url)
      const r = await t.app.inject({ url })
      assert.equal(r.statusCode, 200, url)
      for (const m of r.body.matchAll(/^import [^'"]*['"](\.[^'"]+)['"]/gm)) queue.push(new URL(m[1], `http://x${url}`).pathname)
    }
    assert.ok(seen.size >= 8, `modules found: ${[...seen].join(', ')}`)
  })
})

describe('dashboard in headless Chromium', { skip: NO_CHROMIUM }, () => {
  const group = new ProcessGroup('dashboard')
  let server: TruedyProcess
  let key: string
  let browser: Browser
  const problems: string[] = []

  const url = (): string => server.url ?? ''
  /** Signs the tab in the way the sign-in form does (the key in session storage). */
  const signIn = async (page: Page): Promise<void> => {
    await page.goto(url())
    await page.evaluate(`sessionStorage.setItem('truedy.apiKey', ${JSON.stringify(key)})`)
  }
  /** The text of the focused element. */
  const focused = async (page: Page): Promise<unknown> => await page.evaluate('document.activeElement?.textContent')

  const api = async (method: string, path: string, body?: unknown): Promise<any> => {
    const r = await fetch(`${url()}/api/public/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined
    })
    return { status: r.status, body: await r.json() }
  }

  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is required in CI: apt-get install -y chromium`)
    mkdirSync(ARTIFACTS, { recursive: true })
    // SQLite only (BACKENDS does not apply): the browser checks the dashboard, not the stores.
    server = await group.start('serve', { env: { DATA_DIR: group.file('data'), SIMULATOR_SPEED: '200', SIMULATOR_SEED: '3' } })
    key = /truedy_[0-9A-Za-z]{32}/.exec(server.output())?.[0] ?? ''
    assert.ok(key, `serve prints a key on first start:\n${server.output()}`)
    const agent = await api('POST', '/agents', { name: 'Reminder', voice_id: 'alloy', system_prompt: 'You remind customers of their appointment.' })
    assert.equal(agent.status, 201)
    const num = await api('POST', '/telephony/numbers/import', { phone_number: '+15550000001', provider_type: 'simulator', friendly_name: 'Main line' })
    assert.equal(num.status, 201)
    assert.equal((await api('POST', '/telephony/numbers/assign', { number_id: num.body.data.id, agent_id: agent.body.data.id, assignment_type: 'outbound' })).status, 200)
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  })
  after(async () => {
    await browser?.close()
    await group.cleanup()
  })

  /** A page that records script errors, failed requests and CSP reports (console errors) into `problems`. */
  async function openPage (width: number): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 }, acceptDownloads: true })
    page.on('pageerror', e => { problems.push(`page error: ${e.message}`) })
    page.on('console', m => { if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) problems.push(`console: ${m.text()}`) })
    return page
  }

  /** A screenshot into test-artifacts/dashboard/: the whole page at 1280 px, the first screen at 390 px (README copies: the first screen). */
  const shot = async (page: Page, name: string): Promise<void> => {
    await page.screenshot({ path: join(ARTIFACTS, name), fullPage: (page.viewportSize()?.width ?? 0) > 800 })
    if (process.env.UPDATE_SCREENSHOTS && README_SHOTS[name]) {
      await page.screenshot({ path: join(REPO_ROOT, 'docs', 'screenshots', README_SHOTS[name]) })
    }
  }

  /** Presses an action button, then the confirming button of its dialog. */
  async function confirmAction (page: Page, label: string): Promise<void> {
    await page.getByRole('group', { name: 'Campaign actions' }).getByRole('button', { name: label, exact: true }).click()
    const dialog = page.getByRole('dialog')
    await dialog.waitFor()
    await dialog.getByRole('button', { name: label, exact: true }).click()
    await dialog.waitFor({ state: 'detached' })
  }

  test('sign in, a bad window refused next to its field, a CSV campaign started, paused, resumed and run to 100 %', async t => {
    const page = await openPage(1280)
    const apiRequests: number[] = []
    page.on('request', r => { if (r.url().includes('/api/public/v1/')) apiRequests.push(Date.now()) })
    await page.goto(url())

    // Sign in: a wrong key is refused, the printed one is kept for the tab.
    await page.getByLabel('API key').fill('truedy_' + 'x'.repeat(32))
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor()
    await page.getByLabel('API key').fill(key)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Campaigns' }).waitFor()

    // The form: a CSV, every day, one call at a time, and a window that opens when it closes.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'New campaign' }).click()
    await page.getByRole('heading', { name: 'New campaign' }).waitFor()
    await page.getByLabel('Name').fill('Appointment reminders')
    await page.locator('#nc-agent_id option', { hasText: 'Reminder' }).waitFor({ state: 'attached' })
    assert.match(await page.getByLabel('Agent').inputValue(), /^agt_/)
    await page.getByLabel('CSV file').setInputFiles({ name: 'reminders.csv', mimeType: 'text/csv', buffer: Buffer.from(csv(RECIPIENTS)) })
    for (const d of ['Sat', 'Sun']) await page.getByLabel(d, { exact: true }).check()
    await page.getByLabel('Timezone').fill('America/New_York')
    await page.getByLabel('Daily window from').fill('09:00')
    await page.getByLabel('Daily window until').fill('09:00')
    await page.getByLabel('Concurrent calls').fill('1')
    await page.getByRole('button', { name: 'Create campaign' }).click()
    const endError = page.locator('[data-field="end_time"] .error')
    await endError.waitFor()
    assert.match(await endError.innerText(), /must differ/)
    assert.equal(await page.getByLabel('Daily window until').getAttribute('aria-invalid'), 'true')
    assert.equal(await page.evaluate('document.activeElement?.getAttribute("name")'), 'end_time', 'focus moves to the field in error')
    await shot(page, 'new-campaign-errors-1280.png')
    assert.equal((await api('GET', '/batch-calls')).body.pagination.total, 0, 'a refused form writes nothing')
    assert.equal((await api('GET', '/contacts/folders')).body.data.length, 0, 'no folder made for a refused form')

    // Fixed (no daily window): created as a draft with the CSV's good rows.
    await page.getByLabel('Daily window from').fill('')
    await page.getByLabel('Daily window until').fill('')
    await page.getByRole('button', { name: 'Create campaign' }).click()
    await page.waitForURL(/#\/campaigns\/batch_/)
    const batchId = /#\/campaigns\/(batch_[^/]+)$/.exec(page.url())![1]
    const status = page.getByTestId('campaign-status')
    const progress = page.getByTestId('campaign-progress')
    await status.filter({ hasText: 'draft' }).waitFor()
    await progress.filter({ hasText: `0 / ${RECIPIENTS}` }).waitFor()
    await page.getByRole('status').filter({ hasText: '1 CSV rows skipped' }).waitFor()

    // Start, then pause while it runs (one call at a time: far from done).
    await confirmAction(page, 'Start')
    await status.filter({ hasText: 'active' }).waitFor()
    await confirmAction(page, 'Pause')
    await status.filter({ hasText: 'paused' }).waitFor()
    const paused = (await api('GET', `/batch-calls/${batchId}`)).body.data
    assert.equal(paused.status, 'paused')
    assert.ok(paused.completed_contacts < RECIPIENTS, `paused before the end (${paused.completed_contacts} done)`)
    await page.getByRole('group', { name: 'Campaign actions' }).getByRole('button', { name: 'Resume' }).waitFor()

    // The preflight report, or its absence, is shown either way.
    await page.getByRole('button', { name: 'Run preflight' }).click()
    await page.getByTestId('preflight-report').or(page.getByText('Preflight unavailable')).first().waitFor()

    // Resume and watch the bar fill, within the key's default rate limit (100 requests a minute).
    const resumedAt = Date.now()
    await confirmAction(page, 'Resume')
    await progress.filter({ hasText: `${RECIPIENTS} / ${RECIPIENTS} · 100 %` }).waitFor({ timeout: 90_000 })
    await status.filter({ hasText: 'completed' }).waitFor()
    const running = apiRequests.filter(at => at >= resumedAt)
    const perMinute = (running.length * 60_000) / Math.max(1, Date.now() - resumedAt)
    t.diagnostic(`campaign page while running: ${running.length} API requests in ${Date.now() - resumedAt} ms (${perMinute.toFixed(0)} a minute)`)
    assert.ok(perMinute < 100, `the campaign page stays under the default rate limit: ${perMinute.toFixed(0)} requests a minute`)
    assert.equal(await progress.locator('progress').getAttribute('value'), String(RECIPIENTS))
    const done = (await api('GET', `/batch-calls/${batchId}`)).body.data
    assert.equal(done.status, 'completed')
    assert.equal(done.completed_contacts, RECIPIENTS)
    const outcomes = await page.getByRole('img', { name: /^Outcomes:/ }).getAttribute('aria-label')
    assert.equal(outcomes, `Outcomes: answered ${done.successful_contacts}, voicemail ${done.voicemail_contacts}, no answer ${done.no_answer_contacts}, failed ${done.failed_contacts}, skipped ${done.skipped_contacts}`)
    const perHour = await page.getByRole('img', { name: /^Calls started per hour:/ }).getAttribute('aria-label')
    const charted = [...perHour!.matchAll(/ (\d+)(?:,|$)/g)].reduce((s, m) => s + Number(m[1]), 0)
    assert.equal(charted, done.called, 'every call of the batch is in the per-hour chart')

    await shot(page, 'campaign-1280.png')

    // Recipients: filter by status, page through, export as CSV.
    await page.getByLabel('Status').selectOption('completed')
    await page.getByRole('navigation', { name: 'Recipient pages' }).filter({ hasText: `of ${done.successful_contacts}` }).waitFor()
    await page.getByLabel('Status').selectOption('')
    const pages = page.getByRole('navigation', { name: 'Recipient pages' })
    await pages.filter({ hasText: `1–25 of ${RECIPIENTS}` }).waitFor()
    await pages.getByRole('button', { name: 'Next' }).click()
    await pages.filter({ hasText: `26–${RECIPIENTS} of ${RECIPIENTS}` }).waitFor()
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()])
    const exported = readFileSync((await download.path())!, 'utf8').trim().split('\n')
    assert.match(exported[0], /^id,contact_id,phone_number/)
    assert.equal(exported.length, RECIPIENTS + 1)

    // The list shows it complete.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Campaigns' }).click()
    const row = page.getByRole('row').filter({ hasText: 'Appointment reminders' })
    await row.filter({ hasText: `${RECIPIENTS} / ${RECIPIENTS}` }).waitFor()
    await shot(page, 'campaigns-1280.png')
    await page.close()
    assert.deepEqual(problems, [])
  })

  test('readable at 390 px: no horizontal scrolling on the campaign, list and form pages; keyboard reaches the navigation', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })
    page.on('pageerror', e => { problems.push(`page error: ${e.message}`) })
    await signIn(page)
    const batches = (await api('GET', '/batch-calls')).body.data
    for (const [hash, name, ready] of [
      [`#/campaigns/${batches[0].id}`, 'campaign-390.png', 'Recipient pages'],
      ['#/campaigns', 'campaigns-390.png', 'Campaign pages'],
      ['#/campaigns/new', 'new-campaign-390.png', null],
      ['#/contacts', 'contacts-390.png', null]
    ] as const) {
      await page.goto(`${url()}/${hash}`)
      if (ready) await page.getByRole('navigation', { name: ready }).waitFor()
      else await page.getByRole('heading', { level: 1 }).waitFor()
      const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'))
      assert.ok(overflow <= 0, `${hash} scrolls sideways by ${overflow} px at 390 px`)
      await shot(page, name)
    }
    await page.reload()
    await page.getByRole('heading', { level: 1 }).waitFor()
    await page.keyboard.press('Tab')
    assert.equal(await focused(page), 'Skip to content')
    await page.keyboard.press('Tab')
    assert.equal(await focused(page), 'Campaigns')
    await page.close()
    assert.deepEqual(problems, [])
  })

  test('agents, numbers and contacts: create through the forms, import a CSV, field errors from the API', async () => {
    const page = await openPage(1280)
    await signIn(page)
    await page.goto(`${url()}/#/agents`)
    const agentForm = page.getByRole('form', { name: 'Create an agent' })
    await agentForm.getByLabel('Name').fill('Survey')
    await agentForm.getByRole('button', { name: 'Create agent' }).click()
    await agentForm.locator('[data-field="voice_id"] .error').waitFor()
    await agentForm.getByLabel('Voice id').fill('verse')
    await agentForm.getByLabel('System prompt').fill('Ask three questions.')
    await agentForm.getByRole('button', { name: 'Create agent' }).click()
    await page.getByRole('cell', { name: 'Survey', exact: true }).waitFor()

    await page.goto(`${url()}/#/numbers`)
    const numberForm = page.getByRole('form', { name: 'Import a number' })
    await numberForm.getByLabel('Phone number').fill('+15550000002')
    await numberForm.getByRole('button', { name: 'Import number' }).click()
    await page.getByRole('cell', { name: '+15550000002' }).waitFor()

    await page.goto(`${url()}/#/contacts`)
    const folderForm = page.getByRole('form', { name: 'Create a folder' })
    await folderForm.getByLabel('Name').fill('Spring list')
    await folderForm.getByRole('button', { name: 'Create folder' }).click()
    await page.getByRole('cell', { name: 'Spring list' }).waitFor()
    const importForm = page.getByRole('form', { name: 'Import a CSV' })
    await importForm.getByLabel('Folder', { exact: true }).selectOption({ label: 'Spring list (0)' })
    await importForm.getByLabel('CSV file').setInputFiles({ name: 'spring.csv', mimeType: 'text/csv', buffer: Buffer.from(csv(40)) })
    await importForm.getByRole('button', { name: 'Import' }).click()
    await page.getByTestId('import-status').filter({ hasText: 'Imported 40' }).waitFor()
    await page.getByRole('cell', { name: 'Spring list' }).locator('xpath=..').filter({ hasText: '40' }).waitFor()
    await importForm.getByLabel('CSV file').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('name,email\nAda,a@example.com\n') })
    await importForm.getByRole('button', { name: 'Import' }).click()
    await importForm.locator('[data-field="file"] .error').waitFor()
    await page.getByLabel('Search').fill('Ada39')
    await page.getByRole('navigation', { name: 'Contact pages' }).filter({ hasText: '1–1 of 1' }).waitFor()
    await shot(page, 'contacts-1280.png')

    // A campaign from the folder: its 40 contacts become the recipients.
    await page.goto(`${url()}/#/campaigns/new`)
    await page.getByLabel('Name').fill('Spring survey')
    await page.locator('#nc-agent_id option', { hasText: 'Survey' }).waitFor({ state: 'attached' })
    await page.getByLabel('Agent').selectOption({ label: (await page.locator('#nc-agent_id option', { hasText: 'Reminder' }).innerText()) })
    await page.getByLabel('An existing folder').check()
    await page.getByLabel('CSV file').waitFor({ state: 'hidden' })
    await page.getByRole('button', { name: 'Create campaign' }).click()
    await page.locator('[data-field="contact_folder_id"] .error').filter({ hasText: 'Choose a folder' }).waitFor()
    await page.getByLabel('Folder', { exact: true }).selectOption({ label: 'Spring list (40 contacts)' })
    await page.getByRole('button', { name: 'Create campaign' }).click()
    await page.waitForURL(/#\/campaigns\/batch_/)
    await page.getByTestId('campaign-progress').filter({ hasText: '0 / 40' }).waitFor()
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Campaigns' }).click()
    await page.getByRole('row').filter({ hasText: 'Spring survey' }).filter({ hasText: /open now, until|opens / }).waitFor()

    await page.goto(`${url()}/#/campaigns/batch_00000000-0000-4000-8000-000000000000`)
    await page.getByRole('heading', { name: 'Campaign not found' }).waitFor()
    await page.close()
    assert.deepEqual(problems, [])
  })
})
