'use strict';
// The browser test world: a real `osmosis serve` (started by the SDK suite's harness),
// the mock OAuth provider and API-key API, the application page on its own origin,
// and headless Chromium driven by puppeteer-core. Plus the page helpers every test
// shares: open the app, start a connect, find the connect iframe, wait for what the
// page must show and, when it does not, say what was expected and what was there.
//
// Environment:
//   OSMOSIS_BIN       the osmosis binary; default ~/.cache/osmosis-target/debug/osmosis
//                     (else what ../sdk/harness.js looks for)
//   CHROMIUM          the browser; default /usr/bin/chromium
//   OSMOSIS_TEST_LOG  1: echo the server's stderr and the browser console

const assert = require('node:assert/strict');
const { before, after } = require('node:test');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const puppeteer = require('puppeteer-core');
const { startAppServer } = require('./app-server');

const TIMEOUT = 15_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The SDK suite's harness (server start, JWT signing), which needs tests/sdk installed. */
function sdkHarness() {
  try {
    return require('../sdk/harness.js');
  } catch (e) {
    if (e && e.code === 'MODULE_NOT_FOUND') {
      throw new Error(`tests/browser reuses tests/sdk/harness.js, which needs its packages: run \`npm ci\` in tests/sdk (${e.message})`);
    }
    throw e;
  }
}

function defaultBinary() {
  if (process.env.OSMOSIS_BIN) return;
  const p = path.join(os.homedir(), '.cache', 'osmosis-target', 'debug', 'osmosis');
  if (fs.existsSync(p)) process.env.OSMOSIS_BIN = p;
}

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: install Debian's \`chromium\` (.ci/run does) or set CHROMIUM`);
  }
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/**
 * Registers one before and one after hook that launch Chromium and the app server
 * (always) and, with `{osmosis: true}`, a fresh Osmosis server too; returns the
 * `world` they fill: `{browser, app, server?, sdk?}`. `setup(world)` runs at the end
 * of the before hook and `teardown(world)` at the start of the after hook: Node 20
 * runs several top-level `before` hooks concurrently, so a file must not register a
 * second one that needs the world.
 */
function useWorld({ osmosis = false, setup, teardown } = {}) {
  const world = {};
  before(async () => {
    world.app = await startAppServer();
    world.browser = await launchBrowser();
    if (osmosis) {
      defaultBinary();
      world.sdk = sdkHarness();
      world.server = await world.sdk.startServer();
    }
    if (setup) await setup(world);
  });
  after(async () => {
    try {
      if (teardown) await teardown(world);
    } finally {
      await world.browser?.close().catch(() => {});
      await world.app?.close();
      await world.server?.stop();
    }
  });
  return world;
}

/** A customer token for `tenantKey`, as an app's backend mints it. */
function customerToken(server, tenantKey) {
  const { signJwt } = sdkHarness();
  return signJwt({ id: tenantKey, name: `Customer ${tenantKey}`, iss: server.workspaceKey, exp: Math.floor(Date.now() / 1000) + 3600 }, server.workspaceSecret);
}

/** A plain HTTP call to the API: `{status, body}` (body parsed when JSON). */
async function api(server, method, pathname, token, body) {
  const r = await fetch(`${server.apiUri}${pathname}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: r.status, body: parsed };
}

/** `api` that must answer 2xx; returns the body. */
async function apiOk(server, method, pathname, token, body) {
  const r = await api(server, method, pathname, token, body);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${pathname} should succeed, got ${r.status}: ${JSON.stringify(r.body).slice(0, 1500)}`);
  return r.body;
}

/** The customer's connections (GET /connections with the customer's token). */
async function customerConnections(server, token) {
  const page = await apiOk(server, 'GET', '/connections', token);
  assert.ok(page && Array.isArray(page.items), `GET /connections should answer {items}, got ${JSON.stringify(page).slice(0, 500)}`);
  return page.items;
}

let counter = 0;
function unique(prefix) {
  counter += 1;
  return `${prefix}-${counter}-${crypto.randomBytes(3).toString('hex')}`;
}

// --- page helpers -------------------------------------------------------------

const POPUP_SELECTOR = 'iframe#__integration-app-popup';

/**
 * A fresh page (in its own browser context: no cookies shared between tests) on the
 * app, with the SDK bundle loaded. The page keeps a `trace` of console messages,
 * page errors and the responses of documents (iframe navigations included) for
 * failure messages.
 */
async function openApp(world) {
  const context = await world.browser.createBrowserContext();
  const page = await context.newPage();
  const trace = [];
  page.trace = trace;
  const watch = (p, tag) => {
    p.on('console', (m) => {
      trace.push(`${tag}console.${m.type()}: ${m.text()}`);
      if (process.env.OSMOSIS_TEST_LOG) process.stderr.write(`[browser] ${m.text()}\n`);
    });
    p.on('pageerror', (e) => trace.push(`${tag}page error: ${e.message}`));
    p.on('requestfailed', (r) => trace.push(`${tag}request failed: ${r.method()} ${r.url()} (${r.failure()?.errorText})`));
    p.on('response', (r) => {
      const type = r.request().resourceType();
      if (type === 'document' || type === 'xhr' || type === 'fetch' || type === 'eventsource') {
        trace.push(`${tag}${type}: ${r.request().method()} ${r.url()} -> ${r.status()}`);
      }
    });
  };
  watch(page, '');
  // Popups (the legacy connect falls back to one) land in the same trace.
  context.on('targetcreated', async (target) => {
    if (target.type() !== 'page') return;
    const popup = await target.page().catch(() => null);
    if (popup && popup !== page) {
      trace.push(`popup opened: ${target.url()}`);
      watch(popup, '[popup] ');
    }
  });
  page.closeAll = () => context.close().catch(() => {});
  await page.goto(`${world.app.url}/`, { waitUntil: 'load' });
  const ready = await page.evaluate(() => window.appReady);
  assert.equal(ready, true, `the app page should load the SDK bundle and have window.MembraneClient as the client class\n${describeTrace(page)}`);
  return page;
}

function describeTrace(page, last = 40) {
  const lines = (page.trace || []).slice(-last);
  return lines.length ? `  browser trace (last ${lines.length}):\n    ${lines.join('\n    ')}` : '  browser trace: (empty)';
}

/** The current frame of the SDK's connect iframe, or null when there is none. */
async function connectFrame(page) {
  const handle = await page.$(POPUP_SELECTOR).catch(() => null);
  if (!handle) return null;
  return handle.contentFrame().catch(() => null);
}

/** What the connect iframe shows now, for failure messages. */
async function describeConnectFrame(page) {
  const frame = await connectFrame(page);
  if (!frame) return '  connect iframe: none on the page';
  let text = '';
  let html = '';
  try {
    text = await frame.evaluate(() => document.body ? document.body.innerText : '(no body)');
    html = await frame.evaluate(() => document.documentElement.outerHTML);
  } catch (e) {
    text = `(unreadable: ${e.message})`;
  }
  return `  connect iframe at ${frame.url()}\n  its text: ${JSON.stringify(text.slice(0, 1200))}\n  its HTML: ${html.slice(0, 2500)}`;
}

async function describePage(page) {
  const state = await page.evaluate(() => JSON.stringify(window.connectState)).catch((e) => `(unreadable: ${e.message})`);
  return `${await describeConnectFrame(page)}\n  window.connectState: ${state}\n${describeTrace(page)}`;
}

function fail(message) {
  return new assert.AssertionError({ message, stackStartFn: fail });
}

/**
 * Waits for `selector` inside the connect iframe (re-finding the frame on every poll,
 * as it navigates to the provider and back). `expected` says, in words, what the
 * page should show. Returns `{frame, element}`.
 */
async function waitInConnectFrame(page, selector, expected, { timeout = TIMEOUT, visible = true } = {}) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    await failIfSettled(page, expected);
    const frame = await connectFrame(page);
    if (frame) {
      try {
        const element = await frame.$(selector);
        if (element && (!visible || (await element.isVisible()))) return { frame, element };
      } catch {
        // the frame is navigating; poll again
      }
    }
    await sleep(100);
  }
  throw fail(`Expected the connect iframe to show ${expected}: no ${visible ? 'visible ' : ''}\`${selector}\` within ${timeout / 1000} s.\n${await describePage(page)}`);
}

/** Fails at once when the connect promise has settled while the page should still be showing `expected`. */
async function failIfSettled(page, expected) {
  const state = await page.evaluate(() => window.connectState).catch(() => null);
  if (state && (state.state === 'rejected' || state.state === 'resolved')) {
    throw fail(`Expected the connect iframe to show ${expected}, but the connect promise already ${state.state}: ${JSON.stringify(state.error || state.value)}\n${await describePage(page)}`);
  }
}

/** Waits until the connect iframe's URL satisfies `test`; returns the frame. */
async function waitForConnectFrameUrl(page, test, expected, { timeout = TIMEOUT } = {}) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    await failIfSettled(page, expected);
    const frame = await connectFrame(page);
    if (frame && test(frame.url())) {
      try {
        await frame.waitForFunction(() => document.readyState !== 'loading', { timeout: 5000 });
        return frame;
      } catch {
        // navigated again; poll
      }
    }
    await sleep(100);
  }
  throw fail(`Expected the connect iframe to navigate to ${expected} within ${timeout / 1000} s.\n${await describePage(page)}`);
}

/** Text of `selector` in the connect iframe (trimmed), or null. */
async function textInConnectFrame(page, selector) {
  const frame = await connectFrame(page);
  if (!frame) return null;
  return frame.$eval(selector, (e) => e.textContent.trim()).catch(() => null);
}

/** Sets a form field in the connect iframe by typing into it (cleared first). */
async function typeInto(element, value) {
  await element.evaluate((e) => {
    e.value = '';
  });
  await element.type(value);
}

/** Starts `client.ui.connect(options)` on the page; returns at once. */
async function startUiConnect(page, server, token, options) {
  await page.evaluate((cfg) => window.runConnect(cfg), { token, apiUri: server.apiUri, options });
}

/** Starts `client.integration(key).connect(options)` on the page; returns at once. */
async function startLegacyConnect(page, server, token, integrationKey, options) {
  await page.evaluate((cfg) => window.runLegacyConnect(cfg), { token, apiUri: server.apiUri, integrationKey, options });
}

async function connectState(page) {
  return page.evaluate(() => window.connectState);
}

/**
 * Waits until the connect promise settles; returns `connectState`. While waiting,
 * notes the `data-connection-id` of a `#connect-result` the iframe shows.
 */
async function waitForSettled(page, expected, { timeout = TIMEOUT } = {}) {
  const deadline = Date.now() + timeout;
  let resultId;
  const readResultId = async () => {
    const frame = await connectFrame(page);
    if (!frame) return;
    const id = await frame.$eval('#connect-result', (e) => e.getAttribute('data-connection-id')).catch(() => undefined);
    if (id !== undefined) resultId = id;
  };
  while (Date.now() < deadline) {
    const state = await connectState(page);
    if (state && state.state !== 'pending' && state.state !== 'idle') {
      // onSuccess leaves the iframe in place (only close() removes it): read the
      // result page once more, as it may have called onSuccess before a poll saw it.
      await readResultId();
      return { ...state, resultId };
    }
    await readResultId();
    await sleep(100);
  }
  throw fail(`Expected ${expected} within ${timeout / 1000} s, but the promise is still pending.\n${await describePage(page)}`);
}

/** The connect promise must have resolved with a connection; returns it. */
function expectConnection(settled, integration, what) {
  if (settled.state === 'rejected') {
    throw fail(`${what}: expected the promise to resolve with a connection, it rejected: ${JSON.stringify(settled.error)}`);
  }
  const c = settled.value;
  assert.ok(c && typeof c === 'object', `${what}: expected a connection object (penpal onSuccess(connection)), got ${JSON.stringify(c)}`);
  assert.equal(typeof c.id, 'string', `${what}: the connection should have an id: ${JSON.stringify(c)}`);
  assert.equal(c.integrationId, integration.id, `${what}: the connection's integrationId should be the integration's id: ${JSON.stringify(c)}`);
  assert.equal(c.connected, true, `${what}: the connection should be connected: ${JSON.stringify(c)}`);
  if (settled.resultId !== undefined) {
    assert.equal(settled.resultId, c.id, `${what}: #connect-result's data-connection-id should be the id of the connection given to onSuccess`);
  }
  return c;
}

module.exports = {
  TIMEOUT,
  sleep,
  sdkHarness,
  launchBrowser,
  useWorld,
  customerToken,
  api,
  apiOk,
  customerConnections,
  unique,
  openApp,
  connectFrame,
  describePage,
  describeTrace,
  fail,
  waitInConnectFrame,
  waitForConnectFrameUrl,
  textInConnectFrame,
  typeInto,
  startUiConnect,
  startLegacyConnect,
  connectState,
  waitForSettled,
  expectConnection,
  POPUP_SELECTOR,
};
