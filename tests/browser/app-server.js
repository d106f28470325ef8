'use strict';
// The application under test: a page on its own origin that loads the SDK's browser
// bundle (a UMD that sets `window.MembraneClient` to the client class) and exposes
// the calls a test drives:
//
//   window.runConnect({token, apiUri, options})
//       `new MembraneClient({token, apiUri}).ui.connect(options)`;
//   window.runLegacyConnect({token, apiUri, integrationKey, options})
//       `client.integration(integrationKey).connect(options)`.
//
// Each records its outcome in `window.connectState`: `{state: 'pending'}`, then
// `{state: 'resolved', value}` or `{state: 'rejected', error}`. The call returns at
// once, so a test can drive the iframe while the promise is pending.
//
// The page is served as http://localhost:<port>: another origin (and another site)
// than the API at http://127.0.0.1:<port>, as an app and Membrane are in production,
// so the connect iframe is cross-site and out-of-process.

const fs = require('node:fs');
const path = require('node:path');
const { listen, send } = require('./mocks');

// The package's `exports` hide package.json and dist/bundle.js; find it beside this file.
const BUNDLE = path.join(__dirname, 'node_modules', '@membranehq', 'sdk', 'dist', 'bundle.js');

const PAGE = `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>Osmosis browser test app</title>
<script src="/sdk/bundle.js"></script>
</head>
<body>
<h1 id="app">Test app</h1>
<script>
(function () {
  window.connectState = { state: 'idle' };
  function describeError(e) {
    if (!e || typeof e !== 'object') return { message: String(e) };
    return { name: e.name, message: e.message, data: e.data === undefined ? null : JSON.parse(JSON.stringify(e.data)) };
  }
  function track(promise) {
    window.connectState = { state: 'pending' };
    promise.then(
      function (value) { window.connectState = { state: 'resolved', value: value === undefined ? null : JSON.parse(JSON.stringify(value)) }; },
      function (error) { window.connectState = { state: 'rejected', error: describeError(error) }; }
    );
  }
  window.makeClient = function (cfg) {
    return new window.MembraneClient({ token: cfg.token, apiUri: cfg.apiUri });
  };
  window.runConnect = function (cfg) {
    track(Promise.resolve().then(function () { return window.makeClient(cfg).ui.connect(cfg.options || {}); }));
  };
  window.runLegacyConnect = function (cfg) {
    track(Promise.resolve().then(function () { return window.makeClient(cfg).integration(cfg.integrationKey).connect(cfg.options || {}); }));
  };
  window.appReady = typeof window.MembraneClient === 'function';
})();
</script>
</body>
</html>
`;

/** Serves the app page at `/` and the SDK bundle at `/sdk/bundle.js` on localhost. */
async function startAppServer() {
  if (!fs.existsSync(BUNDLE)) throw new Error(`No SDK bundle at ${BUNDLE}: run \`npm ci\` in tests/browser`);
  const bundle = fs.readFileSync(BUNDLE);
  const app = await listen((req, res) => {
    const url = new URL(req.url, 'http://app');
    if (req.method === 'GET' && url.pathname === '/') return send(res, 200, PAGE);
    if (req.method === 'GET' && url.pathname === '/sdk/bundle.js') {
      res.writeHead(200, { 'content-type': 'application/javascript; charset=utf-8', 'content-length': bundle.length });
      return res.end(bundle);
    }
    if (req.method === 'GET' && url.pathname === '/favicon.ico') {
      res.writeHead(204);
      return res.end();
    }
    send(res, 404, { error: 'not_found' });
  });
  const port = new URL(app.url).port;
  return { ...app, url: `http://localhost:${port}`, bundlePath: BUNDLE };
}

module.exports = { startAppServer, BUNDLE };
