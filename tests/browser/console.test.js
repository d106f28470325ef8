'use strict';
// The admin console (`/console`) in Chromium, against a real `osmosis serve` with a
// seeded workspace: an integration on the mock API-key API, a customer's connection,
// an action, two two-node flows (one completed run, one failed against a mock that
// answers 500), an app event delivered to its webhook; and an action and a flow
// (with an instance on the connection, never run) that the console itself runs.
//
// What a person signing in sees: /console leads to the sign-in form, the form signs
// in, every section the navigation links to and the first record each list links to
// opens with a heading and no error page, looks right (screenshots at 1200 px, the
// overview and sign-in at 400 px too, into screenshots/ like connect-screens) and
// has no serious or critical axe-core violation. The settings form saves, and
// without its CSRF field is refused with the 403 page; the action page's run form
// runs the action on the connection chosen and shows its output (invalid JSON
// input: the 400 page naming the field, nothing run); the flow page draws the
// graph and its "Start a run" form leads to the run's page, which follows the run
// to `completed` and shows the node's output; another workspace's admin sees none
// of this workspace's names; signing out ends the session.
//
// The console's CSP allows only its own script, so the page is opened with CSP
// bypassed for axe-core's injected script (what axe checks is the page as served).

const assert = require('node:assert/strict');
const { test } = require('node:test');
const fs = require('node:fs');
const path = require('node:path');
const { startKeyApi, listen, send } = require('./mocks');
const h = require('./harness');

const AXE = require.resolve('axe-core/axe.min.js');
const SHOTS = process.env.OSMOSIS_SCREENSHOTS || path.join(__dirname, 'screenshots');
const HEIGHT = 900;

/** Names the seeded workspace shows on its pages (and no other workspace may). */
const NAMES = {
  integration: 'Console Ledger App',
  action: 'Console Ledger Echo',
  okFlow: 'Console Ledger Sync',
  failFlow: 'Console Ledger Breaks',
  connection: 'Console Ledger Connection',
  customer: 'console-ledger-customer',
  eventType: 'Console Ledger Order',
  runAction: 'Console Ledger Lookup',
  runFlow: 'Console Ledger Shape',
};

let server;
let keyApi;
let failApi;
const seeded = {};

const world = h.useWorld({ osmosis: true, setup, teardown });

async function setup() {
  server = world.server;
  const admin = server.adminToken;
  const v = (p) => ({ $var: p });
  keyApi = await startKeyApi({ apiKey: 'sk-console-test' });
  failApi = await listen((req, res) => send(res, 500, { message: 'the mock is down' }));
  const connector = await h.apiOk(server, 'POST', '/connectors', admin, {
    key: 'console-ledger',
    name: NAMES.integration,
    type: 'client-credentials',
    inputSchema: { type: 'object', properties: { apiKey: { type: 'string', title: 'API key' } }, required: ['apiKey'] },
    makeApiClient: { type: 'mapping', mapping: { baseUri: keyApi.url, headers: { 'x-api-key': v('$.credentials.apiKey') } } },
    test: { type: 'rest-api-mapping', mapping: { path: '/me', method: 'GET' } },
  });
  const integration = await h.apiOk(server, 'POST', '/integrations', admin, { key: 'console-ledger', name: NAMES.integration, connectorId: connector.id });
  const customer = h.customerToken(server, NAMES.customer);
  const connection = await h.apiOk(server, 'POST', '/connections', customer, {
    integrationId: integration.id,
    name: NAMES.connection,
    input: { apiKey: 'sk-console-test' },
  });
  await h.apiOk(server, 'POST', '/actions', admin, {
    key: 'console-ledger-echo',
    name: NAMES.action,
    integrationId: integration.id,
    type: 'api-request-to-external-app',
    config: { request: { method: 'GET', path: '/me' } },
  });
  await h.apiOk(server, 'POST', `/connections/${connection.id}/actions/console-ledger-echo/run`, customer, {});
  await h.apiOk(server, 'POST', '/flows', admin, {
    key: 'console-ledger-sync',
    name: NAMES.okFlow,
    integrationId: integration.id,
    nodes: {
      start: { type: 'api-trigger', name: 'Start', links: [{ key: 'shape' }] },
      shape: { type: 'transform-data', name: 'Shape', config: { output: { text: v('$.input.start.text') } } },
    },
  });
  await h.apiOk(server, 'POST', '/flows', admin, {
    key: 'console-ledger-breaks',
    name: NAMES.failFlow,
    integrationId: integration.id,
    nodes: {
      start: { type: 'api-trigger', name: 'Start', links: [{ key: 'call' }] },
      call: { type: 'custom-http-request', name: 'Call the mock', config: { request: { method: 'GET', url: `${failApi.url}/boom` } } },
    },
  });
  const runs = {};
  for (const [key, want] of [['console-ledger-sync', 'completed'], ['console-ledger-breaks', 'failed']]) {
    const started = await h.apiOk(server, 'POST', `/connections/${connection.id}/flows/${key}/run`, customer, { input: { text: 'hello' } });
    const run = await h.apiOk(server, 'GET', `/flow-runs/${started.id}?wait=20`, admin);
    assert.equal(run.state, want, `the ${key} run should end ${want}: ${JSON.stringify(run).slice(0, 800)}`);
    runs[want] = run.id;
  }
  const type = await h.apiOk(server, 'POST', '/app-event-types', admin, {
    key: 'console-ledger-order',
    name: NAMES.eventType,
    tenantIdFormula: v('$.customer'),
  });
  const delivered = await fetch(type.globalWebhookUri, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ customer: NAMES.customer, note: '<img src=x onerror="window.injected=1">' }),
  });
  assert.equal(delivered.status, 200, `the app event webhook should take the delivery: ${await delivered.text()}`);
  // What the console runs itself: an action whose output carries its input and
  // what the mock API answered through the connection, and a flow whose
  // transform-data node carries the trigger's input; its instance on the
  // connection is made without a run (as the SDK's autoCreate does).
  const runAction = await h.apiOk(server, 'POST', '/actions', admin, {
    key: 'console-ledger-lookup',
    name: NAMES.runAction,
    integrationId: integration.id,
    type: 'api-request-to-external-app',
    inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
    config: { request: { method: 'GET', path: '/me' } },
    outputMapping: { echoed: v('$.input.text'), user: v('$.output.name') },
  });
  const runFlow = await h.apiOk(server, 'POST', '/flows', admin, {
    key: 'console-ledger-shape',
    name: NAMES.runFlow,
    integrationId: integration.id,
    nodes: {
      start: { type: 'api-trigger', name: 'Start', links: [{ key: 'shape' }] },
      shape: { type: 'transform-data', name: 'Shape', config: { output: { echoed: v('$.input.start.text'), marker: 'shaped-by-console-ledger' } } },
    },
  });
  const runFlowInstance = await h.apiOk(server, 'GET', `/connections/${connection.id}/flows/console-ledger-shape?autoCreate=true`, customer);
  assert.equal(runFlowInstance.connectionId, connection.id, `the flow instance should be on the connection: ${JSON.stringify(runFlowInstance).slice(0, 500)}`);
  Object.assign(seeded, { integration, connection, runs, runAction, runFlow, runFlowInstance });
  fs.mkdirSync(SHOTS, { recursive: true });
}

async function teardown() {
  await keyApi?.close();
  await failApi?.close();
}

/** A fresh browser context (no cookies) and page at `width`, CSP bypassed for axe. */
async function newPage(width = 1200) {
  const context = await world.browser.createBrowserContext();
  const page = await context.newPage();
  await page.setBypassCSP(true);
  await page.setViewport({ width, height: HEIGHT });
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.closeAll = () => context.close().catch(() => {});
  return page;
}

async function goto(page, pathname) {
  const response = await page.goto(`${server.apiUri}${pathname}`, { waitUntil: 'load' });
  return response;
}

/** Signs in through the form with `key` and `secret`; lands on the overview. */
async function signIn(page, key = server.workspaceKey, secret = server.workspaceSecret) {
  await goto(page, '/console');
  assert.equal(new URL(page.url()).pathname, '/console/sign-in', 'a browser without a session is sent to the sign-in form');
  await page.type('#key', key);
  await page.type('#secret', secret);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('main form button[type=submit]')]);
  assert.equal(new URL(page.url()).pathname, '/console', `signing in as ${key} should land on the overview, got ${page.url()}: ${await bodyText(page)}`);
}

async function bodyText(page) {
  return page.evaluate(() => document.body.innerText).catch((e) => `(unreadable: ${e.message})`);
}

async function screenshot(page, t, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  t.diagnostic(`screenshot: ${file}`);
}

/** axe-core's serious and critical violations on the page (lesser ones as diagnostics). */
async function axeProblems(page, what, t) {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.join(' '), html: n.html, summary: n.failureSummary })),
    }));
  });
  if (violations.length) t.diagnostic(`${what}: axe-core: ${violations.map((v) => `${v.id} (${v.impact})`).join(', ')}`);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/**
 * What is wrong with the page just opened: not a 2xx, an error page (the bare
 * frame a signed-in page never uses), no `h1`, a script error.
 */
async function pageProblems(page, response, what) {
  const status = response ? response.status() : 0;
  const shown = await page.evaluate(() => ({
    h1: document.querySelector('h1')?.textContent.trim() || '',
    bare: document.body.classList.contains('bare'),
    alert: document.querySelector('[role=alert]')?.textContent.trim() || '',
    injected: window.injected === 1,
  }));
  const problems = [];
  if (status < 200 || status >= 300) problems.push(`${what}: HTTP ${status}${shown.h1 ? ` (${shown.h1}${shown.alert ? `: ${shown.alert}` : ''})` : ''}`);
  else if (shown.bare) problems.push(`${what}: an error page: ${shown.h1}: ${shown.alert}`);
  if (!shown.h1) problems.push(`${what}: no <h1>`);
  if (shown.injected) problems.push(`${what}: markup from a webhook ran`);
  if (page.errors.length) problems.push(`${what}: script errors: ${page.errors.join('; ')}`);
  page.errors.length = 0;
  return { problems, h1: shown.h1, status };
}

function slug(pathname) {
  return pathname.replace(/^\/console\/?/, '').replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').slice(0, 60) || 'overview';
}

/** The navigation's links, in order: `[{label, path}]`. */
async function navLinks(page) {
  return page.$$eval('nav[aria-label=Console] a', (links) => links.map((a) => ({ label: a.textContent.trim(), path: new URL(a.href).pathname })));
}

test('/console sends a browser to the sign-in form, at 400 and 1200 px with no serious axe finding; the form signs in', async (t) => {
  for (const width of [400, 1200]) {
    const page = await newPage(width);
    try {
      const response = await goto(page, '/console');
      assert.equal(new URL(page.url()).pathname, '/console/sign-in', 'no session: the sign-in form');
      assert.equal(response.status(), 200);
      const h1 = await page.$eval('h1', (e) => e.textContent.trim());
      assert.equal(h1, 'Sign in to the console');
      await screenshot(page, t, `console-sign-in-${width}`);
      assert.deepEqual(await axeProblems(page, `sign-in at ${width} px`, t), [], `the sign-in form at ${width} px: serious or critical axe violations`);
    } finally {
      await page.closeAll();
    }
  }
  const page = await newPage();
  try {
    await goto(page, '/console');
    await page.type('#key', server.workspaceKey);
    await page.type('#secret', 'not-the-secret');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('main form button[type=submit]')]);
    assert.match(await bodyText(page), /not right/, 'a wrong secret is refused with a message');
    await signIn(page);
    assert.equal(await page.$eval('header .workspace', (e) => e.textContent.trim()).catch(() => ''), await workspaceName(), 'the header names the workspace');
  } finally {
    await page.closeAll();
  }
});

/** The workspace's name as the API's admin sees it (the console shows the same). */
async function workspaceName() {
  const page = await newPage();
  try {
    await signIn(page);
    return await page.$eval('header .workspace', (e) => e.textContent.trim());
  } finally {
    await page.closeAll();
  }
}

test('every section the navigation links to, and the first record each list links to: a heading, no error page, screenshots, no serious axe finding', async (t) => {
  const page = await newPage(1200);
  const problems = [];
  const visited = [];
  try {
    await signIn(page);
    const sections = await navLinks(page);
    assert.ok(sections.length >= 2, `the navigation should link to the console's sections: ${JSON.stringify(sections)}`);
    for (const { label, path: pathname } of sections) {
      const response = await goto(page, pathname);
      const what = `${label} (${pathname})`;
      const found = await pageProblems(page, response, what);
      visited.push(`${what}: ${found.status}`);
      problems.push(...found.problems);
      if (found.problems.length) continue;
      await screenshot(page, t, `console-${slug(pathname)}-1200`);
      for (const v of await axeProblems(page, what, t)) problems.push(`${what}: axe ${v.impact} ${v.id} (${v.help}): ${JSON.stringify(v.nodes)}`);
      if (pathname === '/console') {
        await page.setViewport({ width: 400, height: HEIGHT });
        await goto(page, pathname);
        await screenshot(page, t, 'console-overview-400');
        for (const v of await axeProblems(page, `${what} at 400 px`, t)) problems.push(`${what} at 400 px: axe ${v.impact} ${v.id}: ${JSON.stringify(v.nodes)}`);
        await page.setViewport({ width: 1200, height: HEIGHT });
        continue;
      }
      // The first link to a record of this section (a page under its path).
      const detail = await page.$$eval(
        'main a[href]',
        (links, base) => links.map((a) => new URL(a.href)).find((u) => u.pathname.startsWith(`${base}/`))?.pathname || null,
        pathname,
      );
      if (!detail) {
        t.diagnostic(`${what}: no link to a record`);
        continue;
      }
      const detailResponse = await goto(page, detail);
      const detailWhat = `${label}: first record (${detail})`;
      const d = await pageProblems(page, detailResponse, detailWhat);
      visited.push(`${detailWhat}: ${d.status}`);
      problems.push(...d.problems);
      if (d.problems.length) continue;
      await screenshot(page, t, `console-${slug(pathname)}-detail-1200`);
      for (const v of await axeProblems(page, detailWhat, t)) problems.push(`${detailWhat}: axe ${v.impact} ${v.id} (${v.help}): ${JSON.stringify(v.nodes)}`);
    }
    t.diagnostic(`visited:\n  ${visited.join('\n  ')}`);
    assert.deepEqual(problems, [], `console pages with problems:\n  ${problems.join('\n  ')}`);
  } finally {
    await page.closeAll();
  }
});

test('the events page lists the delivery and the settings form saves; without its CSRF field the 403 page, nothing changed', async (t) => {
  const page = await newPage(1200);
  try {
    await signIn(page);
    const events = await goto(page, '/console/events');
    assert.equal(events.status(), 200, `the events page: ${await bodyText(page)}`);
    // Every tab of the page, each a list with a heading and nothing serious for axe.
    const tabs = await page.$$eval('nav[aria-label="Event lists"] a', (links) => links.map((a) => new URL(a.href)).map((u) => u.pathname + u.search));
    assert.equal(tabs.length, 5, `five event lists: ${JSON.stringify(tabs)}`);
    const tabProblems = [];
    for (const tab of tabs) {
      const response = await goto(page, tab);
      const found = await pageProblems(page, response, tab);
      tabProblems.push(...found.problems);
      await screenshot(page, t, `console-events-${slug(new URL(tab, 'http://x').searchParams.get('tab') || 'webhooks')}-1200`);
      for (const v of await axeProblems(page, tab, t)) tabProblems.push(`${tab}: axe ${v.impact} ${v.id}: ${JSON.stringify(v.nodes)}`);
    }
    assert.deepEqual(tabProblems, [], `event lists with problems:\n  ${tabProblems.join('\n  ')}`);
    await goto(page, '/console/events');
    const firstDelivery = await page.$eval('main table a[href^="/console/events/webhooks/"]', (a) => a.getAttribute('href')).catch(() => null);
    assert.ok(firstDelivery, `the events page should list the app event delivery: ${await bodyText(page)}`);
    await goto(page, firstDelivery);
    assert.match(await bodyText(page), /<img src=x onerror=/, 'the delivered markup shows as text');
    assert.equal(await page.evaluate(() => window.injected === 1), false, 'the delivered markup must not run');

    const settings = await goto(page, '/console/settings');
    assert.equal(settings.status(), 200, `the settings page: ${await bodyText(page)}`);
    assert.ok(!(await page.content()).includes(server.workspaceSecret), 'the settings page never shows the secret');
    await page.type('#webhookUri', 'https://hooks.example.com/console');
    await page.click('#allEvents');
    await page.click('#event-flowRun-failed');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('main form button[type=submit]')]);
    assert.match(await bodyText(page), /Saved\./, `saving should say so: ${await bodyText(page)}`);
    const saved = await h.apiOk(server, 'GET', '/settings', server.adminToken);
    assert.deepEqual(saved, { webhookUri: 'https://hooks.example.com/console', enabledWebhookEvents: ['flowRun.failed'] });
    await screenshot(page, t, 'console-settings-saved-1200');

    // A form whose CSRF field is gone: refused, nothing saved.
    await page.$eval('#webhookUri', (e) => {
      e.value = 'https://changed.example.com/';
    });
    await page.evaluate(() => document.querySelector('main form input[name=csrf]').remove());
    const [refused] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('main form button[type=submit]')]);
    assert.equal(refused.status(), 403, `a form without its token should be refused: ${await bodyText(page)}`);
    assert.equal(await page.$eval('h1', (e) => e.textContent.trim()), 'Not allowed');
    await screenshot(page, t, 'console-csrf-refused-1200');
    assert.deepEqual(await h.apiOk(server, 'GET', '/settings', server.adminToken), saved, 'nothing changed');
  } finally {
    await page.closeAll();
  }
});

/** The text of the `pre.json` right after the `h2` whose text is `heading`, parsed; undefined when none. */
async function jsonAfterHeading(page, heading) {
  const text = await page.evaluate((want) => {
    const h2 = [...document.querySelectorAll('main h2')].find((e) => e.textContent.trim() === want);
    const pre = h2?.nextElementSibling;
    return pre && pre.matches('pre.json') ? pre.textContent : null;
  }, heading);
  if (text === null) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Clears the field `selector` and types `text` into it, as a person would. */
async function retype(page, selector, text) {
  await page.$eval(selector, (e) => {
    e.value = '';
  });
  await page.type(selector, text);
}

/** How many run logs the action `id` has (through the API). */
async function actionRunCount(id) {
  const logs = await h.apiOk(server, 'GET', `/action-run-logs?integrationActionId=${encodeURIComponent(id)}`, server.adminToken);
  return logs.items.length;
}

test('the console runs an action on the connection chosen and shows its output; invalid JSON input is the 400 page naming `input`, nothing run', async (t) => {
  const { runAction, connection } = seeded;
  const text = `from-the-console-${Date.now().toString(36)}`;
  const page = await newPage(1200);
  try {
    await signIn(page);
    const detailPath = `/console/actions/${runAction.id}`;
    const detail = await goto(page, detailPath);
    const d = await pageProblems(page, detail, detailPath);
    assert.deepEqual(d.problems, [], `the action's page:\n  ${d.problems.join('\n  ')}`);
    const choices = await page.$$eval('#connectionId option', (options) => options.map((o) => o.value));
    assert.ok(choices.includes(connection.id), `the run form should offer the connection ${connection.id}: ${JSON.stringify(choices)}`);
    assert.equal(await actionRunCount(runAction.id), 0, 'the action has not run yet');
    const calls = keyApi.log.length;

    await page.select('#connectionId', connection.id);
    await retype(page, '#input', JSON.stringify({ text }));
    const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action$="/run"] button[type=submit]')]);
    assert.equal(new URL(page.url()).pathname, `${detailPath}/run`, 'the form posts to the action\'s run address');
    const r = await pageProblems(page, response, 'the run result');
    assert.deepEqual(r.problems, [], `the run result:\n  ${r.problems.join('\n  ')}\n${await bodyText(page)}`);
    assert.equal(r.h1, `Run of ${NAMES.runAction}`);
    assert.equal(await page.$('main .error[role=alert]'), null, `the run should not fail: ${await bodyText(page)}`);
    // The input came through, and the mock API answered through the connection's key.
    assert.deepEqual(await jsonAfterHeading(page, 'Output'), { echoed: text, user: 'Grace Hopper' }, `the result page should show the output: ${await bodyText(page)}`);
    assert.deepEqual(keyApi.log.slice(calls), [{ kind: 'me', ok: true, key: 'sk-console-test' }], 'one call to the mock, with the connection\'s key');
    const runLog = await page.$eval('main a[href^="/console/action-run-logs/"]', (a) => a.getAttribute('href')).catch(() => null);
    assert.ok(runLog, `the result page should link to the run log: ${await bodyText(page)}`);
    assert.equal(await actionRunCount(runAction.id), 1, 'one run log');
    await screenshot(page, t, 'console-action-run-result-1200');
    const axe = await axeProblems(page, 'the action run result', t);
    assert.deepEqual(axe, [], `the action run result: serious or critical axe violations: ${JSON.stringify(axe)}`);

    // Invalid JSON: refused before anything runs.
    await goto(page, detailPath);
    await page.select('#connectionId', connection.id);
    await retype(page, '#input', '{"text": "never sent"');
    const [refused] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action$="/run"] button[type=submit]')]);
    assert.equal(refused.status(), 400, `invalid JSON should be refused with 400: ${await bodyText(page)}`);
    const shown = await page.evaluate(() => ({
      bare: document.body.classList.contains('bare'),
      h1: document.querySelector('h1')?.textContent.trim(),
      alert: document.querySelector('[role=alert]')?.textContent.trim() || '',
    }));
    assert.equal(shown.bare, true, 'the error page');
    assert.equal(shown.h1, 'That did not work');
    assert.match(shown.alert, /`input`/, `the error should name the field: ${shown.alert}`);
    assert.match(shown.alert, /not valid JSON/, `and say what is wrong with it: ${shown.alert}`);
    assert.deepEqual(page.errors, [], 'no script error');
    assert.equal(keyApi.log.length, calls + 1, 'no call to the mock');
    assert.equal(await actionRunCount(runAction.id), 1, 'no run log');
  } finally {
    await page.closeAll();
  }
});

test('the flow page draws both nodes and its "Start a run" form leads to the run page, which follows the run to completed and shows the node\'s output', async (t) => {
  const { runFlow, runFlowInstance } = seeded;
  const text = `flowed-from-the-console-${Date.now().toString(36)}`;
  const page = await newPage(1200);
  try {
    await signIn(page);
    const flowPath = `/console/flows/${runFlow.id}`;
    const response = await goto(page, flowPath);
    const f = await pageProblems(page, response, flowPath);
    assert.deepEqual(f.problems, [], `the flow's page:\n  ${f.problems.join('\n  ')}`);
    assert.equal(f.h1, NAMES.runFlow);
    const drawn = await page.$$eval('svg.graph g.node', (nodes) => nodes.map((g) => ({ key: g.getAttribute('data-node'), text: g.textContent })));
    assert.deepEqual(drawn.map((n) => n.key).sort(), ['shape', 'start'], `the graph should draw both nodes: ${JSON.stringify(drawn)}`);
    assert.match(drawn.find((n) => n.key === 'start').text, /api-trigger/);
    assert.match(drawn.find((n) => n.key === 'shape').text, /transform-data/);
    assert.equal((await page.$$('svg.graph path.edge')).length, 1, 'and the link between them');
    const instances = await page.$$eval('#instance option', (options) => options.map((o) => o.value));
    assert.deepEqual(instances, [runFlowInstance.id], 'the form offers the connection\'s instance');
    const before = await h.apiOk(server, 'GET', `/flow-runs?connectionFlowId=${runFlowInstance.id}`, server.adminToken);
    assert.equal(before.items.length, 0, 'the instance has not run yet');

    await page.select('#instance', runFlowInstance.id);
    await retype(page, '#input', JSON.stringify({ text }));
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/console/flow-instances/start"] button[type=submit]')]);
    const m = /^\/console\/flow-runs\/([^/]+)$/.exec(new URL(page.url()).pathname);
    assert.ok(m, `starting a run should lead to its page, got ${page.url()}: ${await bodyText(page)}`);
    const runId = decodeURIComponent(m[1]);
    const live = (await page.$('[data-live]')) !== null;
    t.diagnostic(`run ${runId}: the page ${live ? 'opened live (the run not finished)' : 'opened with the run already finished'}`);
    try {
      await page.waitForFunction(() => document.querySelector('[data-final]') !== null, { timeout: 20_000 });
    } catch {
      const api = await h.apiOk(server, 'GET', `/flow-runs/${runId}`, server.adminToken);
      await goto(page, `/console/flow-runs/${runId}`);
      const reloaded = await page.$('[data-final]');
      assert.fail(
        `the run page should show the run finished within 20 s (live update ${live ? 'on' : 'off'}); the API says ${api.state}; after a reload the page ${reloaded ? 'does show it finished: the live update did not follow the run' : 'still does not'}: ${await bodyText(page)}`,
      );
    }
    const facts = await page.$$eval('main dl.facts dt', (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent.trim(), dt.nextElementSibling?.textContent.trim() || ''])));
    assert.equal(facts.State, 'completed', `the run should be completed: ${await bodyText(page)}`);
    assert.equal(facts.Id, runId);
    const states = await page.$$eval('svg.graph g.node', (nodes) => Object.fromEntries(nodes.map((g) => [g.getAttribute('data-node'), g.getAttribute('class')])));
    assert.deepEqual(states, { start: 'node completed', shape: 'node completed' }, 'both graph nodes carry the completed class');
    const outputs = await page.$$eval('section#node-shape pre.json', (pres) => pres.map((p) => p.textContent));
    const parsed = outputs.map((o) => {
      try {
        return JSON.parse(o);
      } catch {
        return o;
      }
    });
    assert.ok(
      parsed.some((o) => o && o.echoed === text && o.marker === 'shaped-by-console-ledger'),
      `the shape node's output should show the input text and the marker: ${JSON.stringify(parsed)}`,
    );
    assert.deepEqual(page.errors, [], 'no script error');
    const run = await h.apiOk(server, 'GET', `/flow-runs/${runId}`, server.adminToken);
    assert.equal(run.state, 'completed');
    assert.equal(run.connectionFlowId, runFlowInstance.id, 'the run is of the instance chosen');
    await screenshot(page, t, 'console-flow-run-completed-1200');
    const axe = await axeProblems(page, 'the finished flow run', t);
    assert.deepEqual(axe, [], `the finished flow run: serious or critical axe violations: ${JSON.stringify(axe)}`);
  } finally {
    await page.closeAll();
  }
});

test('another workspace\'s admin, signed in, sees none of this workspace\'s names on any section', async (t) => {
  // A second server on the same database ensures a second workspace in it, then
  // leaves; the first server's console signs its admin in.
  const other = await h.sdkHarness().startServer({
    dataDir: server.dataDir,
    database: server.database,
    workspaceKey: `console-other-${Date.now().toString(36)}`,
    keepData: true,
  });
  const otherKey = other.workspaceKey;
  const otherSecret = other.workspaceSecret;
  await other.stop();
  const page = await newPage(1200);
  try {
    await signIn(page, otherKey, otherSecret);
    assert.notEqual(await page.$eval('header .workspace', (e) => e.textContent.trim()), await workspaceName(), 'the header names the other workspace');
    const leaks = [];
    for (const { label, path: pathname } of await navLinks(page)) {
      const response = await goto(page, pathname);
      const text = await bodyText(page);
      for (const [kind, name] of Object.entries(NAMES)) {
        if (text.includes(name)) leaks.push(`${label} (${pathname}, HTTP ${response.status()}) shows the first workspace's ${kind} "${name}"`);
      }
      for (const id of [seeded.connection.id, seeded.integration.id, seeded.runs.completed, seeded.runs.failed, server.workspaceKey]) {
        if (text.includes(id)) leaks.push(`${label} (${pathname}) shows the first workspace's id ${id}`);
      }
    }
    // Nor a record by its address.
    for (const pathname of [`/console/flow-runs/${seeded.runs.failed}`, `/console/connections/${seeded.connection.id}`]) {
      const response = await goto(page, pathname);
      const text = await bodyText(page);
      if (response.status() === 200 || text.includes(NAMES.failFlow) || text.includes(NAMES.connection)) leaks.push(`${pathname}: HTTP ${response.status()}: ${text.slice(0, 300)}`);
    }
    assert.deepEqual(leaks, [], `the other workspace's admin sees this workspace:\n  ${leaks.join('\n  ')}`);
    t.diagnostic(`signed in as ${otherKey}: no name of ${server.workspaceKey} on any section`);
  } finally {
    await page.closeAll();
  }
});

test('signing out through the header button ends the session: /console goes to sign-in again', async () => {
  const page = await newPage(1200);
  try {
    await signIn(page);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('header form.sign-out button')]);
    await goto(page, '/console');
    assert.equal(new URL(page.url()).pathname, '/console/sign-in', `after signing out /console should go to sign-in, got ${page.url()}`);
    await goto(page, '/console/settings');
    assert.equal(new URL(page.url()).pathname, '/console/sign-in', 'every page, not only the overview');
  } finally {
    await page.closeAll();
  }
});
