'use strict';
// How the connect screens look and whether everyone can use them: the screen the
// SDK's `ui.connect` opens, at a phone-sized (400 px) and a desktop (1200 px) width,
// in both themes. Screenshots go to tests/browser/screenshots/ (ignored by git;
// `OSMOSIS_SCREENSHOTS` picks another folder); axe-core, injected into the connect
// iframe, must report no serious or critical violation.
//
// The design these tests hold Osmosis to: a centred card with the app's logo
// (`<img alt="{app name}">`) and name (the `<h1>`), the workspace asking, help text
// rendered from Markdown (`code`, links opening in a new tab), Connect and Cancel
// side by side, and a busy state while connecting (`aria-busy` on the form, the
// button disabled).

const assert = require('node:assert/strict');
const { test } = require('node:test');
const fs = require('node:fs');
const path = require('node:path');
const { startKeyApi, listen } = require('./mocks');
const h = require('./harness');

const AXE = require.resolve('axe-core/axe.min.js');
const SHOTS = process.env.OSMOSIS_SCREENSHOTS || path.join(__dirname, 'screenshots');
const WIDTHS = [400, 1200];
const HEIGHT = 800;
const APP_NAME = 'Design App';

const LOGO = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
<rect width="64" height="64" rx="14" fill="#0f766e"/><path d="M18 34l9 9 19-21" stroke="#fff" stroke-width="7" fill="none" stroke-linecap="round" stroke-linejoin="round"/></svg>`;

let server;
let keyApi;
let logoServer;

const world = h.useWorld({ osmosis: true, setup, teardown });

async function setup() {
  server = world.server;
  const admin = server.adminToken;
  keyApi = await startKeyApi({ apiKey: 'sk-test-design' });
  logoServer = await listen((req, res) => {
    res.writeHead(200, { 'content-type': 'image/svg+xml', 'cache-control': 'no-store' });
    res.end(LOGO);
  });
  const keyAuth = {
    type: 'client-credentials',
    inputSchema: {
      type: 'object',
      properties: {
        apiKey: {
          type: 'string',
          title: 'API key',
          description: 'Your secret key starts with `sk_`. Find it under [Settings → API keys](https://example.com/settings/keys). <script>window.injected = true</script>',
        },
        region: { type: 'string', title: 'Region', description: 'Leave empty for **EU**.' },
      },
      required: ['apiKey'],
    },
    makeApiClient: { type: 'mapping', mapping: { baseUri: keyApi.url, headers: { 'x-api-key': { $var: '$.credentials.apiKey' } } } },
    test: { type: 'rest-api-mapping', mapping: { path: '/me', method: 'GET' } },
  };
  const connectors = [
    { key: 'designapp', name: APP_NAME, ...keyAuth },
    {
      key: 'designmulti',
      name: `${APP_NAME} Multi`,
      options: {
        apikey: { title: 'API key', description: 'A key from [your account](https://example.com/account).', ...keyAuth },
        token: { title: 'Personal token', description: 'A token with the `read` scope.', ...keyAuth },
      },
    },
  ];
  for (const connector of connectors) {
    const c = await h.apiOk(server, 'POST', '/connectors', admin, connector);
    await h.apiOk(server, 'POST', '/integrations', admin, {
      key: connector.key,
      name: connector.name,
      connectorId: c.id,
      logoUri: `${logoServer.url}/logo.svg`,
    });
  }
  fs.mkdirSync(SHOTS, { recursive: true });
}

async function teardown() {
  await keyApi?.close();
  await logoServer?.close();
}

/** Opens `ui.connect` for `integrationKey` at `width` and waits for `selector` in the iframe. */
async function openScreen(width, integrationKey, selector, expected, options = {}) {
  const token = h.customerToken(server, h.unique('cust'));
  const page = await h.openApp(world);
  await page.setViewport({ width, height: HEIGHT });
  await h.startUiConnect(page, server, token, { integrationKey, ...options });
  const { frame } = await h.waitInConnectFrame(page, selector, expected);
  await frame.waitForFunction(() => document.readyState === 'complete' && [...document.images].every((i) => i.complete), { timeout: h.TIMEOUT });
  // The SDK keeps the iframe hidden behind its loader until the screen's penpal
  // handshake, then fades it in.
  await page
    .waitForFunction(() => {
      const c = document.getElementById('__integration-app-container');
      return c && !c.classList.contains('__integration-app-container__loader');
    }, { timeout: h.TIMEOUT })
    .catch(async () => {
      throw h.fail(`${expected}: the SDK still shows its loader over the connect iframe (no penpal handshake?)\n${await h.describePage(page)}`);
    });
  await h.sleep(400);
  return { page, frame };
}

async function screenshot(page, t, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  t.diagnostic(`screenshot: ${file}`);
}

/** Runs axe-core in the connect iframe; fails on any serious or critical violation. */
async function expectAccessible(frame, what, t) {
  await frame.addScriptTag({ path: AXE });
  const violations = await frame.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.html).slice(0, 5) }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${what}: axe-core reports serious or critical violations:\n${JSON.stringify(bad, null, 2)}`);
  if (violations.length) t.diagnostic(`${what}: axe-core's lesser findings: ${violations.map((v) => `${v.id} (${v.impact})`).join(', ')}`);
  return violations;
}

/** No horizontal scrolling: the card fits the iframe. */
async function expectFits(frame, what) {
  const { scroll, client } = await frame.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  assert.ok(scroll <= client, `${what}: the page should not scroll sideways (scrollWidth ${scroll} > ${client})`);
}

async function buttonRows(frame) {
  return frame.evaluate(() => {
    const box = (id) => {
      const r = document.getElementById(id).getBoundingClientRect();
      return { top: Math.round(r.top), left: Math.round(r.left) };
    };
    return { submit: box('connect-submit'), cancel: box('connect-cancel') };
  });
}

test('the connect form at 400 and 1200 px, light and dark: a card with logo, app, workspace, rendered help, buttons side by side; axe finds nothing serious', async (t) => {
  for (const theme of ['light', 'dark']) {
    for (const width of WIDTHS) {
      const what = `the connect form at ${width} px (${theme})`;
      const { page, frame } = await openScreen(width, 'designapp', 'form#connect-form #connect-submit', 'the API-key form with #connect-submit', theme === 'dark' ? { theme: 'dark' } : {});
      try {
        await screenshot(page, t, `connect-form-${theme}-${width}`);
        const shown = await frame.evaluate(() => {
          const logo = document.querySelector('main img.logo');
          const help = document.getElementById(document.getElementById('input-apiKey').getAttribute('aria-describedby') || '-');
          const link = help && help.querySelector('a');
          return {
            lang: document.documentElement.lang,
            dark: document.body.classList.contains('dark'),
            logo: logo && { alt: logo.alt, loaded: logo.complete && logo.naturalWidth > 0 },
            h1: document.querySelector('main h1')?.textContent,
            workspace: document.getElementById('connect-workspace')?.textContent,
            code: help && [...help.querySelectorAll('code')].map((c) => c.textContent),
            link: link && { href: link.href, target: link.target, rel: link.rel },
            helpText: help && help.textContent,
            injected: window.injected === true,
            cancelInForm: !!document.querySelector('#connect-form #connect-cancel'),
          };
        });
        assert.equal(shown.lang, 'en', `${what}: <html lang="en">`);
        assert.equal(shown.dark, theme === 'dark', `${what}: body.dark follows the theme`);
        assert.deepEqual(shown.logo, { alt: APP_NAME, loaded: true }, `${what}: the app's logo, loaded, alt = the app's name`);
        assert.equal(shown.h1, `Connect ${APP_NAME}`, `${what}: the heading names the app`);
        assert.match(shown.workspace || '', /^Requested by \S/, `${what}: the workspace asking is named`);
        assert.deepEqual(shown.code, ['sk_'], `${what}: Markdown backticks render as <code>, the help is linked with aria-describedby`);
        assert.deepEqual(shown.link, { href: 'https://example.com/settings/keys', target: '_blank', rel: 'noopener noreferrer' }, `${what}: help links open in a new tab`);
        assert.ok(shown.helpText.includes('<script>'), `${what}: raw HTML in the help shows as text: ${shown.helpText}`);
        assert.equal(shown.injected, false, `${what}: raw HTML in the help must not run`);
        assert.ok(shown.cancelInForm, `${what}: Cancel sits in the card with Connect`);
        const rows = await buttonRows(frame);
        assert.equal(rows.submit.top, rows.cancel.top, `${what}: Connect and Cancel on one row: ${JSON.stringify(rows)}`);
        assert.ok(rows.submit.left < rows.cancel.left, `${what}: Connect (primary) before Cancel: ${JSON.stringify(rows)}`);
        await expectFits(frame, what);
        await expectAccessible(frame, what, t);
      } finally {
        await page.closeAll();
      }
    }
  }
});

test('the auth option choice at 400 and 1200 px: logo, rendered option help; axe finds nothing serious', async (t) => {
  for (const width of WIDTHS) {
    const what = `the auth option choice at ${width} px`;
    const { page, frame } = await openScreen(width, 'designmulti', 'button[data-auth-option="apikey"]', 'a choice of auth options: <button data-auth-option="apikey">');
    try {
      await screenshot(page, t, `connect-options-${width}`);
      const shown = await frame.evaluate(() => {
        const b = document.querySelector('[data-auth-option="token"]');
        const help = document.getElementById(b.getAttribute('aria-describedby') || '-');
        return {
          logo: document.querySelector('main img.logo')?.alt,
          code: help && [...help.querySelectorAll('code')].map((c) => c.textContent),
          cancel: !!document.getElementById('connect-cancel'),
        };
      });
      assert.deepEqual(shown, { logo: `${APP_NAME} Multi`, code: ['read'], cancel: true }, `${what}: logo, option help as Markdown, Cancel`);
      await expectFits(frame, what);
      await expectAccessible(frame, what, t);
    } finally {
      await page.closeAll();
    }
  }
});

test('Connect shows a busy state: the form is aria-busy, the button disabled and saying so', async (t) => {
  const { page, frame } = await openScreen(400, 'designapp', 'form#connect-form #connect-submit', 'the API-key form with #connect-submit');
  try {
    const input = await frame.$('#input-apiKey');
    await h.typeInto(input, 'sk-test-design');
    // Hold the form on the page (after the screen's own submit handler ran) so the
    // busy state can be read before the iframe navigates.
    await frame.evaluate(() => document.getElementById('connect-form').addEventListener('submit', (e) => e.preventDefault()));
    await frame.click('#connect-submit');
    const busy = await frame.evaluate(() => ({
      ariaBusy: document.getElementById('connect-form').getAttribute('aria-busy'),
      disabled: document.getElementById('connect-submit').disabled,
      label: document.getElementById('connect-submit').textContent,
      status: document.getElementById('connect-status')?.textContent,
    }));
    assert.deepEqual(busy, { ariaBusy: 'true', disabled: true, label: 'Connecting…', status: 'Connecting…' }, 'the busy state after clicking Connect');
    await screenshot(page, t, 'connect-form-busy-400');
  } finally {
    await page.closeAll();
  }
});

test('the connection screen at 400 and 1200 px: Reconnect and Close side by side; axe finds nothing serious', async (t) => {
  const token = h.customerToken(server, h.unique('cust'));
  const conn = await h.apiOk(server, 'POST', '/connections', token, { integrationKey: 'designapp', input: { apiKey: 'sk-test-design' } });
  for (const width of WIDTHS) {
    const what = `the connection screen at ${width} px`;
    const page = await h.openApp(world);
    try {
      await page.setViewport({ width, height: HEIGHT });
      const url = `${server.apiUri}/screens/connection?token=${encodeURIComponent(token)}&connectionId=${encodeURIComponent(conn.id)}`;
      await page.goto(url, { waitUntil: 'load' });
      const frame = page.mainFrame();
      await frame.waitForSelector('#connection-reconnect', { timeout: h.TIMEOUT });
      await screenshot(page, t, `connection-${width}`);
      const rows = await frame.evaluate(() => {
        const box = (id) => {
          const r = document.getElementById(id).getBoundingClientRect();
          return { top: Math.round(r.top), left: Math.round(r.left) };
        };
        return { reconnect: box('connection-reconnect'), close: box('connect-cancel'), status: document.getElementById('connection-status').dataset.connected };
      });
      assert.equal(rows.status, 'true', `${what}: the connection is shown connected`);
      assert.equal(rows.reconnect.top, rows.close.top, `${what}: Reconnect and Close on one row: ${JSON.stringify(rows)}`);
      assert.ok(rows.reconnect.left < rows.close.left, `${what}: Reconnect (primary) before Close: ${JSON.stringify(rows)}`);
      await expectFits(frame, what);
      await expectAccessible(frame, what, t);
    } finally {
      await page.closeAll();
    }
  }
});
