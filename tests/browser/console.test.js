'use strict';
// The admin console (`/console`) in Chromium, against a real `osmosis serve` with a
// seeded workspace: an integration on the mock API-key API, a customer's connection,
// an action, two two-node flows (one completed run, one failed against a mock that
// answers 500), an app event delivered to its webhook.
//
// What a person signing in sees: /console leads to the sign-in form, the form signs
// in, every section the navigation links to and the first record each list links to
// opens with a heading and no error page, looks right (screenshots at 1200 px, the
// overview and sign-in at 400 px too, into screenshots/ like connect-screens) and
// has no serious or critical axe-core violation. The settings form saves, and
// without its CSRF field is refused with the 403 page; another workspace's admin
// sees none of this workspace's names; signing out ends the session.
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
  Object.assign(seeded, { integration, connection, runs });
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
