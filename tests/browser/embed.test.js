'use strict';
// The embedded pages (`/embed/...`) as the SDK opens them: an app page with the SDK's
// browser bundle and `uiUri` pointing at Osmosis calls the SDK's own `open…`,
// `openConfiguration` and `openEditor`; each iframe loads, answers the penpal
// handshake (the SDK drops its loader) and its Close button resolves the SDK's
// promise through `close`. Connect and reconnect end with `onSuccess(connection)`.
// A field-mapping edit and a flow-parameter edit saved inside the iframe are then
// what the SDK reads back: the connection-level instance, customised. axe-core finds
// nothing serious on the configuration pages; screenshots at 400 px go to
// `screenshots/` (`OSMOSIS_SCREENSHOTS` picks another folder).

const assert = require('node:assert/strict');
const { test } = require('node:test');
const fs = require('node:fs');
const path = require('node:path');
const { startKeyApi } = require('./mocks');
const h = require('./harness');

const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = process.env.OSMOSIS_SCREENSHOTS || path.join(__dirname, 'screenshots');
const API_KEY = 'sk-test-embed';

let server;
let keyApi;
let integration;
const world = h.useWorld({ osmosis: true, setup, teardown });

async function setup() {
  server = world.server;
  const admin = server.adminToken;
  keyApi = await startKeyApi({ apiKey: API_KEY });
  const connector = await h.apiOk(server, 'POST', '/connectors', admin, {
    key: 'embedapp',
    name: 'Embed App',
    type: 'client-credentials',
    inputSchema: { type: 'object', properties: { apiKey: { type: 'string', title: 'API key' } }, required: ['apiKey'] },
    makeApiClient: { type: 'mapping', mapping: { baseUri: keyApi.url, headers: { 'x-api-key': { $var: '$.credentials.apiKey' } } } },
    test: { type: 'rest-api-mapping', mapping: { path: '/me', method: 'GET' } },
    data: {
      contacts: {
        name: 'Contacts',
        fieldsSchema: { type: 'object', properties: { email: { type: 'string' }, fullName: { type: 'string' } } },
      },
      companies: { name: 'Companies', fieldsSchema: { type: 'object', properties: { title: { type: 'string' } } } },
    },
  });
  integration = await h.apiOk(server, 'POST', '/integrations', admin, { key: 'embedapp', name: 'Embed App', connectorId: connector.id });
  await h.apiOk(server, 'POST', '/data-sources', admin, { key: 'people', name: 'People', integrationId: integration.id, collectionKey: 'contacts' });
  await h.apiOk(server, 'POST', '/field-mappings', admin, {
    key: 'people-map',
    name: 'People map',
    integrationId: integration.id,
    dataSourceKey: 'people',
    appSchema: { type: 'object', properties: { name: { type: 'string', title: 'Name' }, mail: { type: 'string', title: 'Email' } } },
    importValue: { name: { $var: '$.fullName' } },
  });
  await h.apiOk(server, 'POST', '/flows', admin, {
    key: 'sync',
    name: 'Sync people',
    integrationId: integration.id,
    parametersSchema: { type: 'object', properties: { limit: { type: 'number', title: 'Limit' } } },
    parameters: { limit: 10 },
    nodes: {
      start: { type: 'api-trigger', name: 'Start', links: [{ key: 'out' }] },
      out: { type: 'transform-data', name: 'Shape', config: { output: { limit: { $var: '$.flowInstance.parameters.limit' } } } },
    },
  });
  await h.apiOk(server, 'POST', '/actions', admin, {
    key: 'whoami',
    name: 'Who am I',
    integrationId: integration.id,
    type: 'api-request-to-external-app',
    config: { path: '/me', method: 'GET' },
  });
  fs.mkdirSync(SHOTS, { recursive: true });
}

async function teardown() {
  await keyApi?.close();
}

/** A new customer connected through the API, with their instances made. */
async function customer() {
  const token = h.customerToken(server, h.unique('cust'));
  const conn = await h.apiOk(server, 'POST', '/connections', token, { integrationId: integration.id, input: { apiKey: API_KEY } });
  const mappingPath = `/connections/${conn.id}/field-mappings/people-map`;
  await h.apiOk(server, 'PUT', mappingPath, token, {});
  const mapping = await h.apiOk(server, 'POST', `${mappingPath}/setup`, token, {});
  const flow = await h.apiOk(server, 'GET', `/connections/${conn.id}/flows/sync?autoCreate=true`, token);
  const action = await h.apiOk(server, 'PUT', `/connections/${conn.id}/actions/whoami`, token, {});
  return { token, conn, mapping, flow, action, dataSource: mapping.dataSourceInstanceId };
}

/**
 * Opens the app page with a client whose `uiUri` is Osmosis and runs `call` (the
 * body of a function of `m`, the client, returning the SDK's promise); its outcome
 * lands in `window.connectState` like the app's own calls.
 */
async function openWith(c, call, width = 1200) {
  const page = await h.openApp(world);
  await page.setViewport({ width, height: 800 });
  await page.evaluate(
    (cfg) => {
      const m = new window.MembraneClient({ token: cfg.token, apiUri: cfg.apiUri, uiUri: cfg.apiUri });
      window.membrane = m;
      window.connectState = { state: 'pending' };
      // eslint-disable-next-line no-new-func
      Promise.resolve(new Function('m', cfg.call)(m)).then(
        (value) => {
          window.connectState = { state: 'resolved', value: value === undefined ? null : JSON.parse(JSON.stringify(value)) };
        },
        (error) => {
          window.connectState = { state: 'rejected', error: { message: String(error && error.message) } };
        },
      );
    },
    { token: c.token, apiUri: server.apiUri, call },
  );
  return page;
}

/** Waits for the SDK to drop its loader: the page in the iframe answered the handshake. */
async function waitForHandshake(page, what) {
  await page
    .waitForFunction(
      () => {
        const c = document.getElementById('__integration-app-container');
        return c && !c.classList.contains('__integration-app-container__loader') && document.querySelector('iframe#__integration-app-popup');
      },
      { timeout: h.TIMEOUT },
    )
    .catch(async () => {
      throw h.fail(`${what}: the SDK still shows its loader (no penpal handshake from the page?)\n${await h.describePage(page)}`);
    });
  const timeout = await page.$('#__integration-app-timeout-message, .error').catch(() => null);
  assert.equal(timeout, null, `${what}: the SDK shows its timeout message`);
}

/** Clicks Close in the iframe and expects the SDK's promise to resolve (penpal `close`). */
async function closeAndExpectResolved(page, what) {
  const { element } = await h.waitInConnectFrame(page, '#connect-cancel', `${what}: a Close button`);
  await element.click();
  const settled = await h.waitForSettled(page, `${what}: the SDK's promise after Close`);
  assert.equal(settled.state, 'resolved', `${what}: ${JSON.stringify(settled)}`);
  const iframe = await page.$(h.POPUP_SELECTOR);
  assert.equal(iframe, null, `${what}: the SDK should remove its iframe on close`);
}

async function expectAccessible(frame, what, t) {
  // The pages' CSP allows only their own inline script (by hash), so axe-core goes
  // in through DevTools, which CSP does not govern, rather than as a script tag.
  await frame.evaluate(AXE_SOURCE);
  const violations = await frame.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.html).slice(0, 5) }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${what}: axe-core reports serious or critical violations:\n${JSON.stringify(bad, null, 2)}`);
  if (violations.length) t.diagnostic(`${what}: axe-core's lesser findings: ${violations.map((v) => `${v.id} (${v.impact})`).join(', ')}`);
}

async function screenshot(page, t, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  t.diagnostic(`screenshot: ${file}`);
}

test('every embedded page the SDK opens loads on uiUri, answers the handshake, and Close resolves the SDK promise', async () => {
  const c = await customer();
  const run = await h.apiOk(server, 'POST', `/flow-instances/${c.flow.id}/run`, c.token, {});
  const calls = [
    ['membrane.open()', 'return m.open()', '/embed/main'],
    ['integration.open()', `return m.integration('embedapp').open()`, `/embed/integrations/${integration.id}`],
    ['fieldMappingInstance.openConfiguration()', `return m.fieldMappingInstance('${c.mapping.id}').openConfiguration()`, '/configuration'],
    ['flowInstance.openConfiguration({nodeKey})', `return m.flowInstance('${c.flow.id}').openConfiguration({nodeKey: 'start'})`, 'nodeKey=start'],
    ['flowInstance.openEditor()', `return m.flowInstance('${c.flow.id}').openEditor()`, '/editor'],
    ['flowInstance.embedEditor() (isolated-embed)', `return m.flowInstance('${c.flow.id}').embedEditor()`, `/isolated-embed/flow-instances/${c.flow.id}/editor`],
    ['flowRun.openEditor()', `return m.flowRun('${run.id}').openEditor()`, `/embed/flow-runs/${run.id}/editor`],
    ['dataSourceInstance.openConfiguration()', `return m.dataSourceInstance('${c.dataSource}').openConfiguration()`, '/embed/data-source-instances/'],
    ['actionInstance.open()', `return m.actionInstance('${c.action.id}').open()`, '/embed/action-instances/'],
  ];
  for (const [what, call, expectedUrl] of calls) {
    const page = await openWith(c, call);
    try {
      await waitForHandshake(page, what);
      const frame = await h.connectFrame(page);
      assert.ok(frame.url().includes(expectedUrl), `${what}: the iframe should be on ${expectedUrl}, is on ${frame.url()}`);
      assert.ok(frame.url().startsWith(server.apiUri), `${what}: the iframe should be on uiUri (${server.apiUri}), is on ${frame.url()}`);
      await h.waitInConnectFrame(page, 'h1', `${what}: a page title`);
      const error = await h.textInConnectFrame(page, '#connect-error');
      assert.equal(error, null, `${what}: the page shows an error: ${error}\n${await h.describePage(page)}`);
      await closeAndExpectResolved(page, what);
    } finally {
      await page.closeAll();
    }
  }
});

test('openNewConnection and openReconnectUI on uiUri end with onSuccess(connection)', async () => {
  const c = await customer();
  for (const [what, call] of [
    ['integration.openNewConnection()', `return m.integration('embedapp').openNewConnection({allowMultipleConnections: true, name: 'Second'})`],
    ['connection.openReconnectUI()', `return m.connection('${c.conn.id}').openReconnectUI()`],
  ]) {
    const page = await openWith(c, call);
    try {
      await waitForHandshake(page, what);
      const { element } = await h.waitInConnectFrame(page, '#input-apiKey', `${what}: the connect form (handed over from /embed)`);
      await h.typeInto(element, API_KEY);
      const { element: submit } = await h.waitInConnectFrame(page, '#connect-submit', `${what}: the Connect button`);
      await submit.click();
      const settled = await h.waitForSettled(page, `${what}: onSuccess`);
      const conn = h.expectConnection(settled, integration, what);
      if (what.startsWith('connection.')) assert.equal(conn.id, c.conn.id, `${what}: the same connection is reconnected`);
      else assert.notEqual(conn.id, c.conn.id, `${what}: a second connection`);
    } finally {
      await page.closeAll();
    }
  }
});

test('a field-mapping edit saved in the iframe is the customised connection-level instance the SDK reads; axe and 400 px screenshot', async (t) => {
  const c = await customer();
  const page = await openWith(c, `return m.fieldMappingInstance('${c.mapping.id}').openConfiguration()`, 400);
  try {
    await waitForHandshake(page, 'field mapping configuration');
    const { frame } = await h.waitInConnectFrame(page, 'input[name="importValue.mail"]', 'the app field Email with an input');
    await h.sleep(300);
    await screenshot(page, t, 'embed-field-mapping-400');
    await expectAccessible(frame, 'field mapping configuration', t);
    const { scroll, client } = await frame.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    assert.ok(scroll <= client, `the page should not scroll sideways at 400 px (${scroll} > ${client})`);
    // Their fields are offered beside the app's.
    const help = await frame.$eval('fieldset[data-direction="importValue"] .help', (e) => e.textContent);
    assert.match(help, /email/);
    assert.match(help, /fullName/);
    // Invalid JSON first: named, nothing saved.
    let { element } = await h.waitInConnectFrame(page, 'input[name="importValue.mail"]', 'the Email input');
    await h.typeInto(element, '{"$var": ');
    await (await frame.$('#embed-save')).click();
    await h.waitInConnectFrame(page, '#connect-error', 'the error naming the field');
    const error = await h.textInConnectFrame(page, '#connect-error');
    assert.match(error, /importValue\.mail: is not valid JSON/);
    let read = await page.evaluate((id) => window.membrane.fieldMappingInstance(id).get(), c.mapping.id);
    assert.equal(read.importValue.mail, undefined, JSON.stringify(read));
    ({ element } = await h.waitInConnectFrame(page, 'input[name="importValue.mail"]', 'the Email input again'));
    await h.typeInto(element, '{"$var": "$.email"}');
    const { frame: again } = await h.waitInConnectFrame(page, '#embed-save', 'Save');
    await (await again.$('#embed-save')).click();
    await h.waitInConnectFrame(page, '#embed-saved', 'the saved notice');
    // The page re-rendered after the POST and spoke penpal again.
    await waitForHandshake(page, 'after saving');
    read = await page.evaluate((id) => window.membrane.fieldMappingInstance(id).get(), c.mapping.id);
    assert.deepEqual(read.importValue.mail, { $var: '$.email' }, JSON.stringify(read));
    assert.deepEqual(read.importValue.name, { $var: '$.fullName' }, JSON.stringify(read));
    assert.equal(read.isCustomized, true, JSON.stringify(read));
    assert.equal(read.connectionId, c.conn.id, JSON.stringify(read));
    await closeAndExpectResolved(page, 'field mapping configuration');
  } finally {
    await page.closeAll();
  }
});

test('a flow-parameter edit saved in the iframe is what the SDK reads; dark theme page accessible; 400 px screenshot', async (t) => {
  const c = await customer();
  const page = await openWith(c, `return m.flowInstance('${c.flow.id}').openConfiguration()`, 400);
  try {
    await waitForHandshake(page, 'flow configuration');
    const { frame, element } = await h.waitInConnectFrame(page, 'input[name="parameters.limit"]', 'the Limit parameter');
    await h.sleep(300);
    await screenshot(page, t, 'embed-flow-400');
    await expectAccessible(frame, 'flow configuration', t);
    await h.typeInto(element, '42');
    await (await frame.$('#embed-save')).click();
    await h.waitInConnectFrame(page, '#embed-saved', 'the saved notice');
    const read = await page.evaluate((id) => window.membrane.flowInstance(id).get(), c.flow.id);
    assert.equal(read.parameters.limit, 42, JSON.stringify(read));
    assert.equal(read.connectionId, c.conn.id, JSON.stringify(read));
    await closeAndExpectResolved(page, 'flow configuration');
  } finally {
    await page.closeAll();
  }
  // The data source page in the dark theme, straight in a frame of the app (the SDK
  // adds no theme): accessible too.
  const dark = await h.openApp(world);
  try {
    await dark.setViewport({ width: 400, height: 800 });
    await dark.evaluate((src) => {
      const f = document.createElement('iframe');
      f.id = 'dark';
      f.src = src;
      f.style = 'width:400px;height:700px;border:0';
      document.body.appendChild(f);
    }, `${server.apiUri}/embed/data-source-instances/${c.dataSource}/configuration?theme=dark&token=${encodeURIComponent(c.token)}`);
    const handle = await dark.waitForSelector('iframe#dark');
    const frame = await handle.contentFrame();
    await frame.waitForSelector('select[name="collectionKey"]', { timeout: h.TIMEOUT });
    assert.equal(await frame.$eval('body', (b) => b.className), 'dark');
    await screenshot(dark, t, 'embed-data-source-dark-400');
    await expectAccessible(frame, 'data source configuration, dark', t);
  } finally {
    await dark.closeAll();
  }
});
