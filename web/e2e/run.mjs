// End-to-end tests: a real Tributary server (TRIBUTARY_BIN) with a fresh SQLite database,
// loaded with the shared corpus and a small scripted scenario, driven in headless Chromium.
//
//   npm run e2e      env: TRIBUTARY_BIN, TRIBUTARY_SHARED_DIR, CHROMIUM, E2E_ONLY=<name part>
//
// Exits non-zero on any failure; a screenshot of each failure goes to the printed folder.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, loadCorpus, makeTmp, postEvents, serverBinary, sharedDir, startServer, uiBase } from './lib.mjs';
import { DB, deltaTable, MODEL, MODEL_NS, ORDERS, ordersId, scenarioEvents } from './scenario.mjs';

const enc = encodeURIComponent;
const ordersLineage = (extra = '') => `/lineage?nodeId=${enc(ordersId)}${extra}`;
const node = (id) => `.graph [data-node-id="${id.replace(/"/g, '\\"')}"]`;
const READY = '.graph[data-ready="true"]';

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function waitReady(page) {
  await page.waitForSelector(READY, { timeout: 20_000 });
}

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test('search finds a dataset with the keyboard and opens it', async ({ page, ui }) => {
  await page.goto(`${ui}/`);
  const box = page.getByRole('combobox', { name: 'Search datasets and jobs' });
  await box.fill('orders');
  await page.waitForSelector('[role="option"]');
  const names = await page.locator('[role="option"] .search-name').allTextContents();
  const target = names.indexOf(ORDERS);
  assert(target >= 0, `search for "orders" did not list ${ORDERS}: ${names.join(', ')}`);
  for (let i = 0; i <= target; i++) await box.press('ArrowDown');
  const active = await page.locator('[role="option"][aria-selected="true"] .search-name').textContent();
  assert(active === ORDERS, `the active row is ${active}, not ${ORDERS}`);
  await box.press('Enter');
  await page.waitForURL((u) => u.pathname === '/lineage' && u.searchParams.get('nodeId') === ordersId);
  await waitReady(page);
  await page.getByRole('complementary', { name: 'Details' }).getByRole('heading', { name: ORDERS }).waitFor();
  await page.getByRole('tab', { name: /Schema \(4\)/ }).waitFor();
  await page.getByRole('cell', { name: 'customer_id' }).waitFor();
});

test('a dataset page loads on its own URL (reload-safe, encoded namespace)', async ({ page, ui }) => {
  await page.goto(`${ui}/datasets/${enc(DB)}/${enc(ORDERS)}`);
  await page.getByRole('heading', { name: ORDERS, level: 1 }).waitFor();
  await page.getByRole('cell', { name: 'decimal(12,2)' }).waitFor();
  await page.reload();
  await page.getByRole('cell', { name: 'decimal(12,2)' }).waitFor();
});

test('the lineage of a dataset shows its jobs, the model downstream and run states', async ({ page, ui }) => {
  await page.goto(`${ui}${ordersLineage()}`);
  await waitReady(page);
  for (const id of ['job:etl:load_orders', 'job:ml:train_churn', `dataset:${MODEL_NS}:${MODEL}`, 'job:analytics:daily_revenue'])
    await page.waitForSelector(node(id), { state: 'attached' });
  assert(await page.locator(node(`dataset:${MODEL_NS}:${MODEL}`)).evaluate((el) => el.classList.contains('gnode-model')), 'the model is not drawn as a model');
  // The failed run colours its job red once run states arrive.
  await page.waitForFunction(
    (sel) => document.querySelector(`${sel} .gnode-state`)?.getAttribute('fill') === '#dc2626',
    node('job:analytics:daily_revenue'),
  );
  // Zoom and fit change the view.
  const before = await page.locator('.zoom-level').textContent();
  await page.getByRole('button', { name: 'Zoom in' }).click();
  const after = await page.locator('.zoom-level').textContent();
  assert(before !== after, `zoom in did not change the zoom (${before})`);
  await page.getByRole('button', { name: 'Fit' }).click();
  assert((await page.locator('.zoom-level').textContent()) === before, 'fit did not return to the fitted zoom');
  await page.getByLabel('Minimap').waitFor();
});

test('expanding a node adds its neighbours in place', async ({ page, ui }) => {
  await page.goto(`${ui}${ordersLineage('&depth=1')}`);
  await waitReady(page);
  const modelSel = node(`dataset:${MODEL_NS}:${MODEL}`);
  assert((await page.locator(modelSel).count()) === 0, 'the model is already drawn at depth 1');
  const count = await page.locator('.gnode').count();
  await page.locator(node('job:ml:train_churn')).click();
  await page.getByRole('complementary', { name: 'Details' }).getByRole('heading', { name: 'train_churn' }).waitFor();
  await page.getByRole('button', { name: 'Expand', exact: true }).click();
  await page.waitForSelector(modelSel, { state: 'attached' });
  await waitReady(page);
  const grown = await page.locator('.gnode').count();
  assert(grown === count + 1, `expected ${count + 1} nodes after expanding, saw ${grown}`);
  assert(page.url().includes('expand='), 'the expansion is not in the URL');
  await page.reload();
  await waitReady(page);
  await page.waitForSelector(modelSel, { state: 'attached' });
});

test('impact mode highlights what is downstream, lists the model, filters and exports CSV', async ({ page, ui, tmp }) => {
  await page.goto(`${ui}${ordersLineage()}`);
  await waitReady(page);
  await page.getByRole('group', { name: 'Mode' }).getByRole('button', { name: 'Impact' }).click();
  const table = page.getByRole('table', { name: 'Affected datasets' });
  await table.waitFor();
  await table.getByText(MODEL, { exact: true }).waitFor();
  const modelRow = table.locator('tr', { hasText: MODEL });
  assert((await modelRow.textContent()).includes('MODEL'), 'the model row does not say MODEL');
  assert(await page.locator(node(`dataset:${MODEL_NS}:${MODEL}`)).evaluate((el) => el.classList.contains('hot')), 'the model is not highlighted');
  assert(await page.locator(node('job:etl:load_orders')).evaluate((el) => el.classList.contains('dim')), 'an upstream job is not dimmed');
  await page.getByRole('checkbox', { name: /MODEL/ }).check();
  await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Affected datasets"] tbody tr').length === 1);
  assert(new URL(page.url()).searchParams.get('types') === 'MODEL', 'the type filter is not in the URL');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: /Export CSV/ }).click()]);
  const file = path.join(tmp, 'impact.csv');
  await download.saveAs(file);
  const csv = fs.readFileSync(file, 'utf8').trim().split(/\r?\n/);
  assert(csv[0].startsWith('distance,dataset_type'), `CSV header: ${csv[0]}`);
  assert(csv.length === 2 && csv[1].includes(`dataset:${MODEL_NS}:${MODEL}`) && csv[1].includes('MODEL'), `CSV rows: ${csv.join(' | ')}`);
});

test('moving the time control redraws the graph as of that moment', async ({ page, ui }) => {
  await page.goto(`${ui}${ordersLineage()}`);
  await waitReady(page);
  const revenue = node('job:analytics:daily_revenue');
  await page.waitForSelector(revenue, { state: 'attached' });
  await page.getByLabel('As of (UTC)').fill('2024-03-15T00:00');
  await page.waitForURL((u) => u.searchParams.get('asOf') === '2024-03-15T00:00:00Z');
  await page.waitForSelector(revenue, { state: 'detached' });
  await waitReady(page);
  await page.waitForSelector(node('job:ml:train_churn'), { state: 'attached' });
  await page.getByText('Showing the graph as it was at').waitFor();
  // Before anything was written, only the start node is left... and a reload keeps the moment.
  await page.reload();
  await waitReady(page);
  assert((await page.locator(revenue).count()) === 0, 'the later job is back after a reload');
  await page.getByRole('button', { name: 'Now', exact: true }).click();
  await page.waitForSelector(revenue, { state: 'attached' });
});

test('a version diff shows the added and removed fields', async ({ page, ui, tagged }) => {
  await page.goto(`${ui}/datasets/${enc(DB)}/${enc(ORDERS)}`);
  await page.getByRole('tab', { name: /Versions \(2\)/ }).click();
  if (tagged) await page.getByRole('list', { name: 'Versions' }).getByText('v1.0.0', { exact: true }).waitFor();
  const picks = page.getByRole('checkbox', { name: /Pick version/ });
  await picks.nth(0).check();
  await picks.nth(1).check();
  await page.getByRole('button', { name: 'Compare' }).click();
  await page.waitForURL((u) => u.pathname.endsWith('/diff') && u.searchParams.get('from') && u.searchParams.get('to'));
  const result = await Promise.race([
    page.waitForSelector('[data-change="added"]', { timeout: 15_000 }).then(() => 'ok'),
    page.waitForSelector('.state-error', { timeout: 15_000 }).then(async (el) => `error: ${(await el.innerText()).replace(/\s+/g, ' ')}`),
  ]);
  if (result !== 'ok') throw new Error(`the diff did not render (${result}); is GET …/versions/diff served?`);
  const added = await page.locator('[data-change="added"] td:nth-child(2)').allTextContents();
  const removed = await page.locator('[data-change="removed"] td:nth-child(2)').allTextContents();
  assert(added.includes('customer_id') && added.includes('created_at'), `added: ${added.join(', ')}`);
  assert(removed.includes('customer'), `removed: ${removed.join(', ')}`);
  const changed = await page.locator('[data-change="changed"] td:nth-child(2)').allTextContents();
  assert(changed.includes('amount'), `changed: ${changed.join(', ')}`);
  if (tagged) await page.locator('.diff-side', { hasText: 'From' }).getByText('v1.0.0').waitFor();
});

test('a tagged version whose data VACUUM removed says so on the dataset page', async ({ page, ui, lake }) => {
  await page.goto(`${ui}/datasets/file/${enc(lake)}`);
  await page.getByRole('tab', { name: /Versions \(2\)/ }).click();
  const list = page.getByRole('list', { name: 'Versions' });
  await list.getByText('model-v1', { exact: true }).waitFor();
  const status = list.getByRole('status');
  await status.getByText(/Snapshot gone at source/).waitFor();
  const text = await status.textContent();
  assert(text.includes('part-0.parquet') && text.includes('VACUUM'), `the badge says: ${text}`);
  // Only the tagged version is asked about.
  assert((await list.getByRole('status').count()) === 1, 'one snapshot badge expected');
});

test('column lineage lists the fields a model field comes from', async ({ page, ui }) => {
  await page.goto(`${ui}/datasets/${MODEL_NS}/${MODEL}/columns`);
  const table = page.getByRole('table', { name: 'Column lineage' });
  await table.waitFor();
  const row = table.locator('tr', { hasText: 'churn_score' });
  await row.waitFor();
  const text = await row.textContent();
  assert(text.includes('.amount') && text.includes(ORDERS), `churn_score comes from: ${text}`);
});

test('a job page shows runs with states, and the SQL', async ({ page, ui }) => {
  await page.goto(`${ui}/jobs/etl/load_orders`);
  await page.getByRole('tab', { name: /Runs \(2\)/ }).waitFor();
  assert((await page.getByRole('table', { name: 'Runs' }).getByText('COMPLETED').count()) === 2, 'two completed runs expected');
  await page.getByRole('tab', { name: 'SQL' }).click();
  await page.getByText(/INSERT INTO shop\.public\.orders/).waitFor();
  await page.getByRole('table', { name: 'Runs' }).waitFor({ state: 'detached' });
  await page.getByRole('tab', { name: /Runs/ }).click();
  await page.getByRole('table', { name: 'Runs' }).getByRole('link').first().click();
  await page.waitForURL((u) => u.pathname.startsWith('/runs/'));
  await page.getByRole('table', { name: 'Outputs' }).getByText(ORDERS).waitFor();
});

test('the events browser lists raw events and opens one as JSON', async ({ page, ui }) => {
  await page.goto(`${ui}/events`);
  const list = page.getByRole('list', { name: 'Events' });
  await list.waitFor();
  assert((await list.locator('li').count()) > 0, 'no events listed');
  await list.locator('.event-head').first().click();
  await page.locator('.json-viewer').first().waitFor();
  await page.getByText(/of \d+/).waitFor();
});

test('a model page opens on what it was trained on, and what changed since', async ({ page, ui }) => {
  await page.goto(`${ui}/datasets/${enc(MODEL_NS)}/${enc(MODEL)}`);
  await page.getByRole('tab', { name: 'Trained on', selected: true }).waitFor();
  const table = page.getByRole('table', { name: 'Trained on' });
  await table.getByRole('link', { name: ORDERS }).waitFor();
  // The scenario's orders carry no snapshot id: said plainly, not hidden.
  await table.getByText(/no snapshot id was recorded/).first().waitFor();
  // Orders were rewritten after training.
  await page.getByRole('list', { name: 'Changed since' }).getByRole('link', { name: ORDERS }).waitFor();
});

test('an unknown node and an unknown path show messages, not a blank page', async ({ page, ui }) => {
  await page.goto(`${ui}/lineage?nodeId=${enc('dataset:nowhere:nothing')}`);
  const err = page.locator('.canvas .state-error');
  await err.waitFor();
  assert(((await err.textContent()) ?? '').length > 'Could not load the lineage'.length, 'the error has no message');
  await page.goto(`${ui}/datasets/no-such-view`);
  await page.getByText('Nothing here').waitFor();
});

/**
 * A server that requires keys for changes (`auth = "writes"`): browsing stays anonymous; tagging
 * a version asks for a key, and works once the key is given.
 */
async function keysScenario(ctx, tmp) {
  const dir = path.join(tmp, 'keys');
  fs.mkdirSync(dir);
  const env = { ...process.env, TRIBUTARY_DATABASE_URL: `sqlite://${path.join(dir, 't.db')}` };
  const key = execFileSync(serverBinary(), ['keys', 'create', '--name', 'e2e-admin', '--scope', 'admin'], {
    env,
    stdio: ['ignore', 'pipe', 'ignore'],
  })
    .toString()
    .trim();
  const server = await startServer({ tmp: dir, env: { TRIBUTARY_AUTH: 'writes' } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15_000);
  try {
    await postEvents(server.base, scenarioEvents(), key);
    const own = await (await fetch(`${server.base}/datasets/x/y`)).text();
    if (!own.includes('id="root"')) return 'skipped: this binary does not serve the UI';
    const unknown = await fetch(`${server.base}/no/such/view`);
    assert(unknown.status === 404, `an unknown path answered ${unknown.status}`);
    await page.goto(`${server.base}/datasets/${enc(DB)}/${enc(ORDERS)}`);
    await page.getByRole('tab', { name: /Versions/ }).click();
    const tagFirst = async () => {
      await page.getByRole('button', { name: /^Tag version/ }).first().click();
      await page.getByLabel('Version tag').fill('release-1');
      await page.getByRole('button', { name: 'Add tag' }).click();
    };
    await tagFirst();
    const dialog = page.getByRole('dialog', { name: 'API key' });
    await dialog.waitFor();
    await dialog.getByText(/needs an API key/).waitFor();
    await dialog.getByLabel('API key').fill(key);
    await dialog.getByRole('button', { name: 'Use this key' }).click();
    await page.getByRole('button', { name: 'Key in use' }).waitFor();
    await page.getByRole('tab', { name: /Versions/ }).click();
    await tagFirst();
    const versions = page.getByRole('list', { name: 'Versions' });
    await versions.getByText('release-1', { exact: true }).waitFor();
    await versions.getByRole('button', { name: 'Remove tag release-1' }).click();
    await versions.getByText('release-1', { exact: true }).waitFor({ state: 'detached' });
    const audit = await (
      await fetch(`${server.base}/api/v1/audit`, { headers: { Authorization: `Bearer ${key}` } })
    ).json();
    const actions = audit.entries.map((e) => `${e.actor} ${e.action}`);
    assert(actions.includes('e2e-admin mutation tagDatasetVersion'), `audit: ${actions.join(', ')}`);
    return 'ok';
  } finally {
    await page.close();
    await server.stop();
  }
}

/** Tags the first version of the orders table `v1.0.0`, when the server knows version tags. */
async function tagOldestOrdersVersion(base) {
  const root = `${base}/api/v1/namespaces/${enc(DB)}/datasets/${enc(ORDERS)}/versions`;
  const { versions } = await (await fetch(root)).json();
  const oldest = versions.at(-1)?.version;
  const res = await fetch(`${root}/${enc(oldest)}/tags/v1.0.0`, { method: 'PUT' });
  return res.ok;
}

async function main() {
  const tmp = makeTmp('tributary-e2e-');
  const shots = path.join(tmp, 'screenshots');
  fs.mkdirSync(shots);
  console.log(`e2e: working folder ${tmp}`);
  const server = await startServer({ tmp });
  let ui;
  let ctx;
  const failures = [];
  try {
    const corpus = path.join(sharedDir(), 'corpus', 'valid');
    if (fs.existsSync(corpus)) console.log(`e2e: loaded ${await loadCorpus(server.base, corpus)} corpus files from ${corpus}`);
    else if (process.env.CI) throw new Error(`no corpus at ${corpus} (set TRIBUTARY_SHARED_DIR)`);
    else console.log(`e2e: no corpus at ${corpus}; scenario only`);
    await postEvents(server.base, scenarioEvents());
    const lake = path.join(tmp, 'lake', 'orders');
    await postEvents(server.base, deltaTable(fs, path, lake));
    const res = await fetch(`${server.base}/api/v1/namespaces/file/datasets/${enc(lake)}/versions/0/tags/model-v1`, { method: 'PUT' });
    if (!res.ok) throw new Error(`cannot tag the Delta table's version 0: ${res.status}`);
    const tagged = await tagOldestOrdersVersion(server.base);
    console.log(`e2e: version tags ${tagged ? 'set (v1.0.0 on the first orders version)' : 'not supported by this server; not checked'}`);
    ui = await uiBase(server.base);
    console.log(`e2e: server ${server.base}, UI ${ui.own ? `static server over web/dist at ${ui.base}` : 'served by the binary'}`);
    ctx = await launchBrowser(tmp);
    const only = process.env.E2E_ONLY;
    for (const t of tests) {
      if (only && !t.name.includes(only)) continue;
      const page = await ctx.newPage();
      page.setDefaultTimeout(15_000);
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      // The pages' content security policy must not block anything the UI does.
      page.on('console', (m) => {
        if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) errors.push(m.text());
      });
      const t0 = Date.now();
      try {
        await t.fn({ page, ui: ui.base, tmp, tagged, lake });
        if (errors.length) throw new Error(`uncaught errors in the page: ${errors.join('; ')}`);
        console.log(`  ok    ${t.name} (${Date.now() - t0} ms)`);
      } catch (e) {
        const shot = path.join(shots, `${failures.length + 1}.png`);
        await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
        failures.push(t.name);
        console.log(`  FAIL  ${t.name}\n        ${String(e.message).split('\n')[0]}\n        screenshot: ${shot}`);
      } finally {
        await page.close();
      }
    }
    if (!process.env.E2E_ONLY || 'keys'.includes(process.env.E2E_ONLY)) {
      const name = 'a change asks for an API key and works with it (auth = writes)';
      try {
        const outcome = await keysScenario(ctx, tmp);
        console.log(`  ${outcome === 'ok' ? 'ok   ' : outcome} ${name}`);
      } catch (e) {
        failures.push(name);
        console.log(`  FAIL  ${name}\n        ${String(e.message).split('\n')[0]}`);
      }
    }
  } finally {
    await ctx?.close();
    await ui?.stop();
    await server.stop();
  }
  if (failures.length) {
    console.log(`e2e: ${failures.length} failed (server log: ${server.logFile})`);
    process.exit(1);
  }
  console.log('e2e: all passed');
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(`e2e: ${e.stack ?? e}`);
  process.exit(1);
});
