'use strict';
// What the SDK's browser bundle does, pinned without Osmosis: a fake API origin
// answers `/screens/connect` with a minimal reference screen (a hand-written penpal 6
// child), so these tests fix the contract the real screens must meet and check the
// page helpers the Osmosis tests use (iframe lookup across navigations, waits).
//
//   - `ui.connect(options)` form-POSTs (application/x-www-form-urlencoded) into a
//     named iframe `#__integration-app-popup`: `token`, each option as a string,
//     `allowMultipleConnections` as '1' or '' (always sent), `connectorParameters`
//     as JSON; nested objects would arrive as "[object Object]".
//   - The parent speaks penpal 6 with origin = the origin of `apiUri`: the child sends
//     {penpal:'syn'}, gets {penpal:'synAck', methodNames}, answers {penpal:'ack',
//     methodNames}; then calls {penpal:'call', id, methodName, args} and gets
//     {penpal:'reply', id, resolution:'fulfilled'|'rejected', returnValue}. Parent
//     methods: handshake, onSuccess, onClose, close.
//   - The child must call `handshake()` within 3 s of each iframe load until it has
//     once; otherwise the SDK overlays "Unable to connect" (the promise stays pending).
//   - onSuccess(connection) resolves the promise with `connection`; `close()` removes
//     the iframe and resolves it with null.
//   - After the iframe navigates to another origin and back to the API origin, a new
//     syn/ack handshake re-binds the methods, so a callback page can call onSuccess.

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { listen, send, readParams, startOAuthProvider, escapeHtml, b64url } = require('./mocks');
const h = require('./harness');

let fake;
let provider;
const posts = [];

// A penpal 6 child in a few lines: `window.penpal.connect()` handshakes with the
// parent, `window.penpal.call(name, ...args)` calls one of its methods.
const PENPAL_CHILD = `
window.penpal = (function () {
  var parentOrigin = null, nextId = 1, pending = {}, ready;
  window.addEventListener('message', function (ev) {
    var d = ev.data;
    if (ev.source !== window.parent || !d || !d.penpal) return;
    if (d.penpal === 'synAck' && !parentOrigin) {
      parentOrigin = ev.origin;
      window.parent.postMessage({ penpal: 'ack', methodNames: [] }, parentOrigin);
      ready();
    } else if (d.penpal === 'reply' && pending[d.id]) {
      var p = pending[d.id]; delete pending[d.id];
      (d.resolution === 'fulfilled' ? p.resolve : p.reject)(d.returnValue);
    }
  });
  var connected = new Promise(function (r) { ready = r; });
  return {
    connect: function () { window.parent.postMessage({ penpal: 'syn' }, '*'); return connected; },
    call: function (name) {
      var args = Array.prototype.slice.call(arguments, 1);
      return connected.then(function () {
        return new Promise(function (resolve, reject) {
          var id = nextId++;
          pending[id] = { resolve: resolve, reject: reject };
          window.parent.postMessage({ penpal: 'call', id: id, methodName: name, args: args }, parentOrigin);
        });
      });
    },
  };
})();`;

const CONNECTION = { id: 'conn-fake', integrationId: 'int-fake', connected: true };

function screen(body, script) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>fake screen</title><script>${PENPAL_CHILD}</script></head><body>${body}<script>${script}</script></body></html>`;
}

const world = h.useWorld({ setup, teardown });

async function setup() {
  provider = await startOAuthProvider({ clientId: 'fake-client', clientSecret: 'fake-secret' });
  fake = await listen(async (req, res) => {
    const url = new URL(req.url, 'http://fake');
    if (req.method === 'POST' && url.pathname === '/screens/connect') {
      const params = await readParams(req);
      posts.push({ contentType: req.headers['content-type'], params });
      if (params.integrationKey === 'silent') return send(res, 200, '<!doctype html><p id="silent">no penpal here</p>');
      const oauth = params.integrationKey === 'oauthapp';
      const authorize = `${provider.authorizeUri}?${new URLSearchParams({ client_id: 'fake-client', response_type: 'code', redirect_uri: `${fake.url}/callback`, state: 'fake-state' })}`;
      return send(
        res,
        200,
        screen(
          `<form id="connect-form"><input name="input.apiKey"><button type="submit" id="connect-submit">Connect</button></form><button id="connect-cancel" type="button">Cancel</button>`,
          `penpal.connect().then(function () { return penpal.call('handshake'); });
           document.getElementById('connect-cancel').onclick = function () { penpal.call('close'); };
           document.getElementById('connect-form').onsubmit = function (e) {
             e.preventDefault();
             ${oauth ? `location.href = ${JSON.stringify(authorize)};` : `penpal.call('onSuccess', Object.assign(${JSON.stringify(CONNECTION)}, { name: document.querySelector('[name="input.apiKey"]').value }));`}
           };`,
        ),
      );
    }
    if (req.method === 'GET' && url.pathname === '/callback') {
      const q = Object.fromEntries(url.searchParams);
      if (q.error) return send(res, 200, screen(`<p id="connect-error" role="alert">${escapeHtml(q.error)}</p>`, `penpal.connect().then(function () { return penpal.call('handshake'); });`));
      return send(
        res,
        200,
        screen(`<div id="connect-result" data-connection-id="conn-fake-oauth">Connected</div>`, `penpal.connect().then(function () { return penpal.call('handshake'); }).then(function () { return penpal.call('onSuccess', ${JSON.stringify({ ...CONNECTION, id: 'conn-fake-oauth' })}); });`),
      );
    }
    send(res, 404, { error: 'not_found' });
  });
}

async function teardown() {
  await fake?.close();
  await provider?.close();
}

const fakeServer = () => ({ apiUri: fake.url });
// The SDK decodes the token as a JWT before using it; the fake API never checks it.
const TOKEN = `${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url('{"id":"t-1","iss":"wk"}')}.c2ln`;

test('the app page loads the SDK bundle: window.MembraneClient is the client class with ui.connect', async () => {
  const page = await h.openApp(world);
  try {
    const shape = await page.evaluate((apiUri) => {
      const c = new window.MembraneClient({ token: 'a.b.c', apiUri });
      return {
        apiUri: c.apiUri,
        uiConnect: typeof c.ui.connect,
        uiConnection: typeof c.ui.connection,
        integrationConnect: typeof c.integration('x').connect,
        page: location.origin,
      };
    }, fake.url);
    assert.deepEqual(shape, { apiUri: fake.url, uiConnect: 'function', uiConnection: 'function', integrationConnect: 'function', page: world.app.url });
    assert.notEqual(new URL(world.app.url).origin, new URL(fake.url).origin, 'the app must be on another origin than the API');
    // The SDK refuses a workspace secret in browser code.
    const refused = await page.evaluate(() => {
      try {
        new window.MembraneClient({ workspaceKey: 'k', workspaceSecret: 's', tenantKey: 't' });
        return null;
      } catch (e) {
        return e.message;
      }
    });
    assert.match(refused, /workspaceSecret must not be used in browser code/);
  } finally {
    await page.closeAll();
  }
});

test('ui.connect form-POSTs token and options to {apiUri}/screens/connect in an iframe; onSuccess resolves', async () => {
  const page = await h.openApp(world);
  try {
    const before = posts.length;
    await h.startUiConnect(page, fakeServer(), TOKEN, { integrationKey: 'keyapp', connectorParameters: { a: 1 }, name: 'Mine' });
    const { element } = await h.waitInConnectFrame(page, '[name="input.apiKey"]', 'the connect form');
    const post = posts[before];
    assert.match(post.contentType, /application\/x-www-form-urlencoded/);
    assert.deepEqual(post.params, { token: TOKEN, integrationKey: 'keyapp', connectorParameters: '{"a":1}', name: 'Mine', allowMultipleConnections: '' });
    const frame = await h.connectFrame(page);
    assert.equal(frame.url(), `${fake.url}/screens/connect`);
    assert.equal(await page.$eval(h.POPUP_SELECTOR, (e) => e.name.startsWith('__integration-app-popup-')), true);
    await h.typeInto(element, 'typed');
    await frame.$eval('#connect-submit', (e) => e.click());
    const settled = await h.waitForSettled(page, 'ui.connect to resolve');
    assert.deepEqual(settled.value, { ...CONNECTION, name: 'typed' });
  } finally {
    await page.closeAll();
  }
});

test('penpal close removes the iframe and resolves ui.connect with null', async () => {
  const page = await h.openApp(world);
  try {
    await h.startUiConnect(page, fakeServer(), TOKEN, { integrationKey: 'keyapp' });
    const { frame } = await h.waitInConnectFrame(page, '#connect-cancel', 'the cancel button');
    await frame.$eval('#connect-cancel', (e) => e.click());
    const settled = await h.waitForSettled(page, 'ui.connect to resolve with null');
    assert.deepEqual(settled, { state: 'resolved', value: null, resultId: undefined });
    assert.equal(await page.$(h.POPUP_SELECTOR), null, 'the iframe is gone');
  } finally {
    await page.closeAll();
  }
});

test('after a round trip through the provider the callback page re-handshakes and onSuccess resolves', async () => {
  const page = await h.openApp(world);
  try {
    await h.startUiConnect(page, fakeServer(), TOKEN, { integrationKey: 'oauthapp' });
    const { frame } = await h.waitInConnectFrame(page, '#connect-submit', 'the connect form');
    await frame.$eval('#connect-submit', (e) => e.click());
    await h.waitForConnectFrameUrl(page, (u) => u.startsWith(provider.authorizeUri), 'the provider consent page');
    const { frame: consent } = await h.waitInConnectFrame(page, '#approve', 'the consent page');
    await consent.$eval('#approve', (e) => e.click());
    const settled = await h.waitForSettled(page, 'ui.connect to resolve after the callback');
    assert.equal(settled.state, 'resolved');
    assert.equal(settled.value.id, 'conn-fake-oauth');
    assert.equal(settled.resultId, 'conn-fake-oauth');
  } finally {
    await page.closeAll();
  }
});

test('a screen that never calls handshake gets the SDK overlay "Unable to connect" and the promise stays pending', async () => {
  const page = await h.openApp(world);
  try {
    await h.startUiConnect(page, fakeServer(), TOKEN, { integrationKey: 'silent' });
    await h.waitInConnectFrame(page, '#silent', 'the silent page');
    await page.waitForSelector('#__integration-app-timeout-message', { timeout: h.TIMEOUT });
    assert.match(await page.$eval('#__integration-app-timeout-message', (e) => e.textContent), /Unable to connect/);
    assert.equal((await h.connectState(page)).state, 'pending');
  } finally {
    await page.closeAll();
  }
});
