'use strict';
// The connect flow in headless Chromium against a real `osmosis serve`: the app page
// (another origin) runs the official SDK bundle's `client.ui.connect(...)`, the test
// drives the connect screen inside the SDK's iframe like a user, and checks what the
// SDK's promise gives the app and what Osmosis stored.
//
// The screen contract these tests hold Osmosis to:
//   POST {apiUri}/screens/connect (form: token + ui.connect options) renders, in the
//   iframe, with penpal 6 towards the app (call `handshake()` once connected):
//   - several auth options and none chosen: one `<button data-auth-option="KEY">` each;
//   - the chosen option: `<form id="connect-form">`, one `<input name="input.FIELD">`
//     per property of its inputSchema, `<button type="submit" id="connect-submit">`;
//     `#connect-cancel` calls penpal `close()`;
//   - errors in place: `<p id="connect-error" role="alert">` with the form kept;
//   - OAuth: submit navigates the iframe to the provider's authorize URL; the
//     provider redirects to Osmosis's callback (on the API origin), which renders
//     the result in the same iframe;
//   - success: `<div id="connect-result" data-connection-id="…">` and penpal
//     `onSuccess(connection)`; failure: `#connect-error`, no onSuccess;
//   - the OAuth state is single-use: a replayed callback is an error page;
//   - an integration whose required connector parameters are unset (an OAuth app
//     without its client id): `#connect-error` (data-reason="not-set-up") saying
//     "This integration is not set up yet — contact <workspace>", a Close button,
//     and nothing that starts a connect (no form, no submit, no option buttons).

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { startOAuthProvider, startKeyApi } = require('./mocks');
const h = require('./harness');

const API_KEY = 'sk-test-5c0ffee';
const CLIENT_ID = 'osmosis-client';
const CLIENT_SECRET = 'osmosis-client-secret';

let server;
let keyApi;
let provider;
let admin;
const integrations = {};

function keyConnector(base) {
  return {
    key: 'keyapp',
    name: 'Key App',
    type: 'client-credentials',
    inputSchema: { type: 'object', properties: { apiKey: { type: 'string', title: 'API key' } }, required: ['apiKey'] },
    makeApiClient: { type: 'mapping', mapping: { baseUri: base, headers: { 'x-api-key': { $var: '$.credentials.apiKey' } } } },
    test: { type: 'rest-api-mapping', mapping: { path: '/me', method: 'GET' } },
  };
}

function oauthAuth(base) {
  return {
    getOAuthConfig: {
      type: 'mapping',
      mapping: {
        clientId: { $var: '$.connectorParameters.clientId' },
        clientSecret: { $var: '$.connectorParameters.clientSecret' },
        authorizeUri: `${base}/authorize`,
        tokenUri: `${base}/token`,
        scopes: ['read'],
      },
    },
    makeApiClient: {
      type: 'mapping',
      mapping: { baseUri: `${base}/api`, headers: { Authorization: { $tpl: { template: 'Bearer {t}', values: { t: { $var: '$.credentials.access_token' } } } } } },
    },
    test: { type: 'rest-api-mapping', mapping: { path: '/me', method: 'GET' } },
  };
}

function oauthConnector(base) {
  return { key: 'oauthapp', name: 'OAuth App', type: 'oauth2', ...oauthAuth(base) };
}

/** HubSpot's shape: the OAuth app's client id and secret are required connector parameters. */
function notSetUpConnector(base) {
  return {
    key: 'notsetup',
    name: 'Not Set Up App',
    type: 'oauth2',
    parametersSchema: {
      type: 'object',
      properties: { clientId: { type: 'string' }, clientSecret: { type: 'string' } },
      required: ['clientId', 'clientSecret'],
    },
    ...oauthAuth(base),
  };
}

/** Two auth options and no auth of its own: the screen must ask which. */
function multiConnector(keyBase, oauthBase) {
  const { key, name, ...keyAuth } = keyConnector(keyBase);
  return {
    key: 'multiapp',
    name: 'Multi App',
    options: {
      apikey: { title: 'API key', ...keyAuth },
      oauth: { title: 'OAuth', type: 'oauth2', ...oauthAuth(oauthBase) },
    },
  };
}

const world = h.useWorld({ osmosis: true, setup, teardown });

async function setup() {
  server = world.server;
  admin = server.adminToken;
  keyApi = await startKeyApi({ apiKey: API_KEY });
  const apiOrigin = new URL(server.apiUri).origin;
  provider = await startOAuthProvider({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    // The callback renders in the SDK's iframe and must speak penpal to the app,
    // which accepts messages from the API's origin only.
    allowRedirect: (uri) => new URL(uri).origin === apiOrigin,
  });
  const parameters = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
  for (const [connector, withParameters] of [
    [keyConnector(keyApi.url), false],
    [oauthConnector(provider.url), true],
    [multiConnector(keyApi.url, provider.url), true],
    // Its integration sets no parameters: nobody can connect through it yet.
    [notSetUpConnector(provider.url), false],
  ]) {
    const c = await h.apiOk(server, 'POST', '/connectors', admin, connector);
    integrations[connector.key] = await h.apiOk(server, 'POST', '/integrations', admin, {
      key: connector.key,
      name: connector.name,
      connectorId: c.id,
      ...(withParameters ? { parameters } : {}),
    });
  }
}

async function teardown() {
  await keyApi?.close();
  await provider?.close();
}

/** A new customer with the app page open, ready to connect. */
async function customerPage() {
  const tenant = h.unique('cust');
  const token = h.customerToken(server, tenant);
  const page = await h.openApp(world);
  return { tenant, token, page };
}

async function expectNoConnections(token, what) {
  const items = await h.customerConnections(server, token);
  assert.deepEqual(
    items.map((c) => ({ id: c.id, connected: c.connected })),
    [],
    `${what}: the customer should have no connection`,
  );
}

/** The connection must be in the customer's GET /connections, connected. */
async function expectListed(token, connection, what) {
  const items = await h.customerConnections(server, token);
  const found = items.find((c) => c.id === connection.id);
  assert.ok(found, `${what}: connection ${connection.id} should be in the customer's GET /connections: ${JSON.stringify(items).slice(0, 1000)}`);
  assert.equal(found.connected, true, `${what}: the listed connection should be connected: ${JSON.stringify(found)}`);
  assert.equal(items.length, 1, `${what}: exactly one connection expected: ${JSON.stringify(items).slice(0, 1000)}`);
}

/** The error shown in the connect iframe: visible `#connect-error` with a message. */
async function expectErrorInFrame(page, expected) {
  await h.waitInConnectFrame(page, '#connect-error', `${expected} in <p id="connect-error" role="alert">`);
  const text = await h.textInConnectFrame(page, '#connect-error');
  assert.ok(text && text.length > 0, `#connect-error should carry a message (${expected}), it is empty.\n${await h.describePage(page)}`);
  const role = await (await h.connectFrame(page)).$eval('#connect-error', (e) => e.getAttribute('role'));
  assert.equal(role, 'alert', '#connect-error should have role="alert"');
  return text;
}

async function expectPending(page, what) {
  const state = await h.connectState(page);
  if (state.state !== 'pending') throw h.fail(`${what}: the ui.connect promise should still be pending, it ${state.state}: ${JSON.stringify(state.value ?? state.error)}\n${await h.describePage(page)}`);
}

/** Fills `input.apiKey` of the connect form and submits it. */
async function submitApiKey(page, key) {
  const { element } = await h.waitInConnectFrame(page, 'form#connect-form [name="input.apiKey"]', 'the API-key form: <form id="connect-form"> with <input name="input.apiKey">');
  await h.typeInto(element, key);
  const { frame } = await h.waitInConnectFrame(page, 'form#connect-form #connect-submit', 'the submit button <button type="submit" id="connect-submit"> in #connect-form');
  await frame.$eval('#connect-submit', (e) => e.click());
}

/** Submits the OAuth option's form and lands on the provider's consent page. */
async function toConsentPage(page) {
  const { frame } = await h.waitInConnectFrame(page, 'form#connect-form #connect-submit', 'the OAuth connect form: <form id="connect-form"> with <button id="connect-submit">');
  await frame.$eval('#connect-submit', (e) => e.click());
  await h.waitForConnectFrameUrl(page, (u) => u.startsWith(provider.authorizeUri), `the provider's authorize URL (${provider.authorizeUri}?client_id=…) after submitting the OAuth form`);
  const authorize = provider.entries('authorize').at(-1);
  assert.ok(authorize && authorize.ok, `the provider should accept the authorize request: ${JSON.stringify(authorize)}`);
  return authorize;
}

async function clickInFrame(page, selector, expected) {
  const { frame } = await h.waitInConnectFrame(page, selector, expected);
  await frame.$eval(selector, (e) => e.click());
}

test('API key: ui.connect shows the form, the key connects, the promise resolves with the connection', async () => {
  const { token, page } = await customerPage();
  try {
    await h.startUiConnect(page, server, token, { integrationKey: 'keyapp' });
    await submitApiKey(page, API_KEY);
    const settled = await h.waitForSettled(page, 'ui.connect to resolve with the connection (penpal onSuccess) after submitting a good API key');
    const connection = h.expectConnection(settled, integrations.keyapp, 'ui.connect');
    await expectListed(token, connection, 'after ui.connect');
    assert.ok(keyApi.log.some((e) => e.ok && e.key === API_KEY), "Osmosis should have run the connector's test against the API with the key");
    const secret = await h.apiOk(server, 'GET', `/connections/${connection.id}?includeSecrets=true`, admin);
    assert.equal(secret.credentials?.apiKey, API_KEY, `the connection's credentials should hold the key: ${JSON.stringify(secret)}`);
  } finally {
    await page.closeAll();
  }
});

test('API key: a wrong key shows #connect-error in the form and creates nothing; the corrected key connects', async () => {
  const { token, page } = await customerPage();
  try {
    await h.startUiConnect(page, server, token, { integrationKey: 'keyapp' });
    const rejectedBefore = keyApi.log.filter((e) => !e.ok).length;
    await submitApiKey(page, 'sk-wrong');
    const message = await expectErrorInFrame(page, 'an error saying the connection test failed (the API refused the key)');
    assert.ok(keyApi.log.filter((e) => !e.ok).length > rejectedBefore, `Osmosis should have tried the wrong key against the API before showing "${message}"`);
    await h.waitInConnectFrame(page, 'form#connect-form [name="input.apiKey"]', 'the form kept beside the error, to correct the key');
    await expectPending(page, 'after a wrong key');
    await expectNoConnections(token, 'after a wrong key');

    await submitApiKey(page, API_KEY);
    const settled = await h.waitForSettled(page, 'ui.connect to resolve once the corrected key is submitted in the same form');
    const connection = h.expectConnection(settled, integrations.keyapp, 'ui.connect after correcting the key');
    await expectListed(token, connection, 'after correcting the key');
  } finally {
    await page.closeAll();
  }
});

test('OAuth 2: submit goes to the provider, approve comes back through the callback, the promise resolves', async () => {
  const { token, page } = await customerPage();
  try {
    await h.startUiConnect(page, server, token, { integrationKey: 'oauthapp' });
    const authorize = await toConsentPage(page);
    const q = authorize.query;
    assert.equal(q.client_id, CLIENT_ID);
    assert.equal(q.response_type, 'code');
    assert.ok(q.code_challenge, `the authorize request should carry a PKCE code_challenge: ${JSON.stringify(q)}`);
    assert.equal(q.code_challenge_method, 'S256', 'PKCE method');
    assert.match(q.scope || '', /\bread\b/, 'the scopes of getOAuthConfig');
    const tokensBefore = provider.entries('token').length;

    await clickInFrame(page, '#approve', "the provider's consent page with #approve");
    const settled = await h.waitForSettled(page, "ui.connect to resolve with the connection after the provider's redirect to the callback (result page with #connect-result and penpal onSuccess)");
    const connection = h.expectConnection(settled, integrations.oauthapp, 'ui.connect (OAuth)');

    const exchanges = provider.entries('token').slice(tokensBefore);
    assert.equal(exchanges.length, 1, `Osmosis should exchange the code exactly once: ${JSON.stringify(exchanges)}`);
    assert.equal(exchanges[0].ok, true, `the token exchange should succeed: ${JSON.stringify(exchanges[0])}`);
    assert.equal(exchanges[0].pkce, 'verified', 'the code_verifier should match the challenge (S256)');
    assert.equal(exchanges[0].codeChallenge, q.code_challenge);

    await expectListed(token, connection, 'after OAuth');
    const secret = await h.apiOk(server, 'GET', `/connections/${connection.id}?includeSecrets=true`, admin);
    const accessToken = secret.credentials?.access_token;
    assert.ok(accessToken, `the connection's credentials should hold access_token: ${JSON.stringify(secret)}`);
    assert.ok(provider.issued(accessToken), 'the stored access_token should be the one the provider issued');
    assert.ok(provider.entries('me').some((e) => e.ok), "Osmosis should have run the connector's test with the bearer token");
  } finally {
    await page.closeAll();
  }
});

test('OAuth 2: deny shows #connect-error from the callback, the promise stays pending, nothing is created', async () => {
  const { token, page } = await customerPage();
  try {
    await h.startUiConnect(page, server, token, { integrationKey: 'oauthapp' });
    await toConsentPage(page);
    const tokensBefore = provider.entries('token').length;
    await clickInFrame(page, '#deny', "the provider's consent page with #deny");
    await h.waitForConnectFrameUrl(page, (u) => u.startsWith(server.apiUri), `Osmosis's callback (on ${server.apiUri}) after the provider's error=access_denied redirect`);
    await expectErrorInFrame(page, 'an error saying access was denied (the callback got error=access_denied)');
    await expectPending(page, 'after deny');
    assert.equal(provider.entries('token').length, tokensBefore, 'no token exchange after a denial');
    await expectNoConnections(token, 'after deny');
  } finally {
    await page.closeAll();
  }
});

test('OAuth 2: the callback URL replayed in a fresh page is an error page (state is single-use) and creates nothing', async () => {
  const { token, page } = await customerPage();
  let replay;
  try {
    await h.startUiConnect(page, server, token, { integrationKey: 'oauthapp' });
    await toConsentPage(page);
    await clickInFrame(page, '#approve', "the provider's consent page with #approve");
    const settled = await h.waitForSettled(page, 'ui.connect to resolve (the first use of the callback)');
    const connection = h.expectConnection(settled, integrations.oauthapp, 'ui.connect (OAuth)');
    const callback = provider.entries('redirect').at(-1);
    assert.equal(callback.decision, 'approve');
    const tokensBefore = provider.entries('token').length;
    const totalBefore = (await h.apiOk(server, 'GET', '/connections', admin)).items.length;

    replay = await h.openApp(world);
    await replay.goto(callback.location, { waitUntil: 'load' });
    try {
      await replay.waitForSelector('#connect-error', { visible: true, timeout: h.TIMEOUT });
    } catch {
      const text = await replay.evaluate(() => document.body?.innerText || '').catch(() => '');
      throw h.fail(`Expected the replayed callback ${callback.location} to show an error page with <p id="connect-error"> (the state was used).\n  page text: ${JSON.stringify(text.slice(0, 1200))}\n${h.describeTrace(replay)}`);
    }
    assert.ok((await replay.$eval('#connect-error', (e) => e.textContent.trim())).length > 0, '#connect-error should carry a message');
    assert.equal(await replay.$('#connect-result'), null, 'a replayed callback must not render a result');
    assert.equal(provider.entries('token').length, tokensBefore, 'a replayed state must be refused before any code exchange');
    await expectListed(token, connection, 'after the replay');
    assert.equal((await h.apiOk(server, 'GET', '/connections', admin)).items.length, totalBefore, 'the replay must create no connection');
  } finally {
    await replay?.closeAll();
    await page.closeAll();
  }
});

test('#connect-cancel closes the iframe and ui.connect resolves with null', async () => {
  const { token, page } = await customerPage();
  try {
    await h.startUiConnect(page, server, token, { integrationKey: 'keyapp' });
    await clickInFrame(page, '#connect-cancel', 'a cancel button #connect-cancel (calls penpal close)');
    const settled = await h.waitForSettled(page, 'ui.connect to resolve with null after #connect-cancel (penpal close)');
    assert.equal(settled.state, 'resolved');
    assert.equal(settled.value, null);
    assert.equal(await page.$(h.POPUP_SELECTOR), null, 'the SDK removes the iframe on close');
    await expectNoConnections(token, 'after cancel');
  } finally {
    await page.closeAll();
  }
});

test('several auth options: one button per option, choosing one shows its form and connects with it', async () => {
  const { token, page } = await customerPage();
  try {
    await h.startUiConnect(page, server, token, { integrationKey: 'multiapp' });
    await h.waitInConnectFrame(page, 'button[data-auth-option="apikey"]', 'a choice of auth options: <button data-auth-option="apikey">');
    await h.waitInConnectFrame(page, 'button[data-auth-option="oauth"]', 'a choice of auth options: <button data-auth-option="oauth">');
    const frame = await h.connectFrame(page);
    const options = await frame.$$eval('[data-auth-option]', (els) => els.map((e) => e.getAttribute('data-auth-option')).sort());
    assert.deepEqual(options, ['apikey', 'oauth'], 'exactly one button per auth option');
    assert.equal(await frame.$('form#connect-form'), null, 'no form before an option is chosen');
    await frame.$eval('button[data-auth-option="apikey"]', (e) => e.click());
    await submitApiKey(page, API_KEY);
    const settled = await h.waitForSettled(page, 'ui.connect to resolve after connecting with the chosen "apikey" option');
    const connection = h.expectConnection(settled, integrations.multiapp, 'ui.connect (auth option apikey)');
    await expectListed(token, connection, 'after the apikey option');
    const secret = await h.apiOk(server, 'GET', `/connections/${connection.id}?includeSecrets=true`, admin);
    assert.equal(secret.credentials?.apiKey, API_KEY, `credentials of the apikey option: ${JSON.stringify(secret)}`);
    if ('authOptionKey' in secret) assert.equal(secret.authOptionKey, 'apikey');
  } finally {
    await page.closeAll();
  }
});

test('an integration whose OAuth client id is not set: the screen says it is not set up and whom to contact, offers no way to an error, and Close resolves with null', async () => {
  const { token, page } = await customerPage();
  try {
    const authorizeBefore = provider.entries('authorize').length;
    await h.startUiConnect(page, server, token, { integrationKey: 'notsetup' });
    const text = await expectErrorInFrame(page, 'the message "This integration is not set up yet — contact <workspace>"');
    assert.match(text, /^This integration is not set up yet — contact \S.*\.$/, `the customer's sentence, not a developer error: ${JSON.stringify(text)}`);
    assert.doesNotMatch(text, /clientId|OAuth config|missing|derive/, 'no technical detail for the customer');
    const frame = await h.connectFrame(page);
    assert.equal(await frame.$eval('#connect-error', (e) => e.getAttribute('data-reason')), 'not-set-up');
    assert.equal(await frame.$('form'), null, `no form on a not-set-up screen\n${await h.describePage(page)}`);
    assert.equal(await frame.$('#connect-submit'), null, 'no submit button ("Continue to …")');
    assert.equal(await frame.$('[data-auth-option]'), null, 'no auth option buttons');
    const pageText = await frame.evaluate(() => document.body.innerText);
    assert.doesNotMatch(pageText, /Continue to/, `nothing offers to continue: ${JSON.stringify(pageText)}`);
    assert.match(pageText, /Reference: \S+/, 'a reference the customer can quote');
    await expectPending(page, 'on the not-set-up screen');
    assert.equal(provider.entries('authorize').length, authorizeBefore, 'nobody was sent to the provider');

    await clickInFrame(page, '#connect-cancel', 'a Close button #connect-cancel (calls penpal close)');
    const settled = await h.waitForSettled(page, 'ui.connect to resolve with null after Close');
    assert.equal(settled.state, 'resolved');
    assert.equal(settled.value, null);
    await expectNoConnections(token, 'after a not-set-up screen');
  } finally {
    await page.closeAll();
  }
});

const LEGACY_PATH =
  "  The legacy path: the SDK GETs /integrations/{key}, POSTs /connection-options {integrationId} (an option without a key, i.e. the connector's own, of type \"client-credentials\" makes it use a hidden iframe, anything else a popup), then form-POSTs payload=<JSON {token, input, integrationId, requestId, ...}> to {apiUri}/connect and waits for {source: 'integration.app', type: 'newConnectionCreated' | 'newConnectionFailure', requestId, connection | error} by postMessage from that window or as an event on GET /sse/connection-events/{requestId}?token=...";

async function settleLegacy(page, expected) {
  try {
    return await h.waitForSettled(page, expected, { timeout: 20_000 });
  } catch (e) {
    throw h.fail(`${e.message}\n${LEGACY_PATH}`);
  }
}

test('legacy integration(key).connect({input}) resolves with the connection (client credentials, hidden iframe)', async () => {
  const { token, page } = await customerPage();
  try {
    await h.startLegacyConnect(page, server, token, 'keyapp', { input: { apiKey: API_KEY } });
    const settled = await settleLegacy(page, 'integration.connect to resolve with the connection');
    if (settled.state === 'rejected') throw h.fail(`integration.connect should resolve with a connection, it rejected: ${JSON.stringify(settled.error)}\n${LEGACY_PATH}\n${h.describeTrace(page)}`);
    const connection = h.expectConnection(settled, integrations.keyapp, 'integration.connect');
    await expectListed(token, connection, 'after integration.connect');
  } finally {
    await page.closeAll();
  }
});

test('legacy integration(key).connect with a wrong key rejects with the error and creates nothing', async () => {
  const { token, page } = await customerPage();
  try {
    await h.startLegacyConnect(page, server, token, 'keyapp', { input: { apiKey: 'sk-wrong' } });
    const settled = await settleLegacy(page, 'integration.connect to reject (newConnectionFailure)');
    if (settled.state !== 'rejected') throw h.fail(`integration.connect with a wrong key should reject, it resolved with ${JSON.stringify(settled.value)}\n${LEGACY_PATH}`);
    assert.ok(settled.error && typeof settled.error.message === 'string' && settled.error.message.length > 0, `the rejection should carry a message: ${JSON.stringify(settled.error)}`);
    const submitted = page.trace.some((line) => line.includes(`document: POST ${server.apiUri}/connect -> `));
    if (!submitted) throw h.fail(`integration.connect should reject from the connect page's newConnectionFailure, after POST ${server.apiUri}/connect; it rejected before: ${JSON.stringify(settled.error)}\n${LEGACY_PATH}\n${h.describeTrace(page)}`);
    await expectNoConnections(token, 'after a failed integration.connect');
  } finally {
    await page.closeAll();
  }
});
