'use strict';
// The outside world of the connect flow, as small Node http servers on 127.0.0.1:
//
//   startOAuthProvider()  an OAuth 2 authorization server with a consent page, PKCE
//                         (S256), client authentication and a protected `/api/me`;
//   startKeyApi()         an API that answers `/me` only with the right `x-api-key`.
//
// Both record what they saw (`log`) so tests can assert on the exchange itself, not
// only on what Osmosis reports.

const crypto = require('node:crypto');
const http = require('node:http');

function listen(handler) {
  const server = http.createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((e) => {
      if (!res.headersSent) send(res, 500, { error: 'mock_failure', message: String(e && e.stack) });
    });
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        server,
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
  });
}

function send(res, status, body, headers = {}) {
  const json = typeof body !== 'string';
  res.writeHead(status, { 'content-type': json ? 'application/json' : 'text/html; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(json ? JSON.stringify(body) : body);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (data += d));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

/** Form or JSON request body as a plain object. */
async function readParams(req) {
  const raw = await readBody(req);
  const type = String(req.headers['content-type'] || '');
  if (type.includes('application/json')) {
    try {
      return JSON.parse(raw || '{}');
    } catch {
      return {};
    }
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

const b64url = (buf) => Buffer.from(buf).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const s256 = (verifier) => b64url(crypto.createHash('sha256').update(verifier).digest());
const randomToken = (prefix) => `${prefix}-${crypto.randomBytes(12).toString('hex')}`;

/**
 * An OAuth 2 authorization server.
 *
 *   GET  /authorize   checks client_id, response_type=code, redirect_uri (must satisfy
 *                     `allowRedirect`), records state and the PKCE challenge, renders
 *                     a consent page with `#approve` and `#deny` buttons;
 *   GET  /decide      what the buttons submit: 302 to redirect_uri with
 *                     `code`+`state`, or `error=access_denied`+`state`;
 *   POST /token       authorization_code (single-use code, same redirect_uri, client
 *                     auth by Basic header or body, PKCE verifier when a challenge was
 *                     given) and refresh_token grants;
 *   GET  /api/me      `{id, name}` for `Authorization: Bearer <issued access token>`.
 *
 * `log` holds one entry per request: `{kind, ...}` with `kind` one of `authorize`,
 * `redirect` (with the full `location` the browser was sent to), `token`, `me`.
 */
async function startOAuthProvider({ clientId, clientSecret, allowRedirect = () => true, user = { id: 'user-1', name: 'Ada Lovelace' } } = {}) {
  const log = [];
  const transactions = new Map(); // tx id -> authorize request
  const codes = new Map(); // code -> {tx, used}
  const accessTokens = new Set();
  const refreshTokens = new Set();

  function tokenError(res, status, error, description) {
    log.push({ kind: 'token', ok: false, error, description });
    send(res, status, { error, error_description: description });
  }

  function issue(res, entry) {
    const access_token = randomToken('at');
    const refresh_token = randomToken('rt');
    accessTokens.add(access_token);
    refreshTokens.add(refresh_token);
    log.push({ kind: 'token', ok: true, ...entry, access_token });
    send(res, 200, { access_token, refresh_token, expires_in: 3600, token_type: 'bearer' });
  }

  const mock = await listen(async (req, res) => {
    const url = new URL(req.url, 'http://mock');
    const q = Object.fromEntries(url.searchParams);

    if (req.method === 'GET' && url.pathname === '/authorize') {
      const problems = [];
      if (q.client_id !== clientId) problems.push(`client_id is ${JSON.stringify(q.client_id)}, expected ${JSON.stringify(clientId)}`);
      if (q.response_type !== 'code') problems.push(`response_type is ${JSON.stringify(q.response_type)}, expected "code"`);
      if (!q.redirect_uri) problems.push('no redirect_uri');
      else {
        try {
          new URL(q.redirect_uri);
        } catch {
          problems.push(`redirect_uri ${JSON.stringify(q.redirect_uri)} is not an absolute URL`);
        }
        if (!problems.length && !allowRedirect(q.redirect_uri)) problems.push(`redirect_uri ${JSON.stringify(q.redirect_uri)} is not allowed`);
      }
      if (!q.state) problems.push('no state');
      if (q.code_challenge && q.code_challenge_method && q.code_challenge_method !== 'S256') {
        problems.push(`code_challenge_method is ${JSON.stringify(q.code_challenge_method)}, expected "S256"`);
      }
      const entry = { kind: 'authorize', query: q, ok: problems.length === 0, problems };
      log.push(entry);
      if (problems.length) {
        // Per RFC 6749 4.1.2.1 an invalid client or redirect URI must not redirect.
        return send(res, 400, `<!doctype html><title>Bad authorization request</title><h1 id="authorize-error">Bad authorization request</h1><ul>${problems.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul>`);
      }
      const tx = randomToken('tx');
      transactions.set(tx, q);
      const form = (decision, label) =>
        `<form method="GET" action="/decide"><input type="hidden" name="tx" value="${tx}"><input type="hidden" name="decision" value="${decision}"><button type="submit" id="${decision}">${label}</button></form>`;
      return send(
        res,
        200,
        `<!doctype html><html><head><title>Mock provider: authorize</title></head><body>
<h1 id="consent">Allow access to your Mock account?</h1>
<p>Client <code>${escapeHtml(clientId)}</code> asks for the scopes <code id="scopes">${escapeHtml(q.scope || '')}</code>.</p>
${form('approve', 'Allow')}${form('deny', 'Deny')}
</body></html>`,
      );
    }

    if (req.method === 'GET' && url.pathname === '/decide') {
      const authorize = transactions.get(q.tx);
      if (!authorize) return send(res, 400, '<!doctype html><p id="authorize-error">unknown or used transaction</p>');
      transactions.delete(q.tx);
      const target = new URL(authorize.redirect_uri);
      if (q.decision === 'approve') {
        const code = randomToken('code');
        codes.set(code, { authorize, used: false });
        target.searchParams.set('code', code);
      } else {
        target.searchParams.set('error', 'access_denied');
        target.searchParams.set('error_description', 'The user denied access');
      }
      target.searchParams.set('state', authorize.state);
      log.push({ kind: 'redirect', decision: q.decision, location: target.toString() });
      res.writeHead(302, { location: target.toString(), 'cache-control': 'no-store' });
      return res.end();
    }

    if (req.method === 'POST' && url.pathname === '/token') {
      const p = await readParams(req);
      // Client authentication: HTTP Basic or client_id/client_secret in the body.
      let id = p.client_id;
      let secret = p.client_secret;
      let via = 'body';
      const auth = req.headers.authorization || '';
      if (/^basic /i.test(auth)) {
        const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
        const i = decoded.indexOf(':');
        id = decodeURIComponent(decoded.slice(0, i));
        secret = decodeURIComponent(decoded.slice(i + 1));
        via = 'basic';
      }
      if (id !== clientId || secret !== clientSecret) return tokenError(res, 401, 'invalid_client', `client authentication failed (via ${via})`);

      if (p.grant_type === 'refresh_token') {
        if (!refreshTokens.has(p.refresh_token)) return tokenError(res, 400, 'invalid_grant', 'unknown refresh token');
        return issue(res, { grant: 'refresh_token', clientAuth: via });
      }
      if (p.grant_type !== 'authorization_code') return tokenError(res, 400, 'unsupported_grant_type', String(p.grant_type));
      const grant = codes.get(p.code);
      if (!grant) return tokenError(res, 400, 'invalid_grant', 'unknown code');
      if (grant.used) return tokenError(res, 400, 'invalid_grant', 'code already used');
      if (p.redirect_uri !== grant.authorize.redirect_uri) {
        return tokenError(res, 400, 'invalid_grant', `redirect_uri ${JSON.stringify(p.redirect_uri)} differs from the authorize request's ${JSON.stringify(grant.authorize.redirect_uri)}`);
      }
      let pkce = 'none';
      if (grant.authorize.code_challenge) {
        if (!p.code_verifier) return tokenError(res, 400, 'invalid_grant', 'code_verifier missing (the authorize request had a code_challenge)');
        if (s256(p.code_verifier) !== grant.authorize.code_challenge) return tokenError(res, 400, 'invalid_grant', 'code_verifier does not match the code_challenge (S256)');
        pkce = 'verified';
      }
      grant.used = true;
      return issue(res, { grant: 'authorization_code', clientAuth: via, pkce, codeChallenge: grant.authorize.code_challenge, codeVerifier: p.code_verifier });
    }

    if (req.method === 'GET' && url.pathname === '/api/me') {
      const m = /^bearer (.+)$/i.exec(req.headers.authorization || '');
      const ok = Boolean(m && accessTokens.has(m[1].trim()));
      log.push({ kind: 'me', ok });
      if (!ok) return send(res, 401, { error: 'invalid_token' });
      return send(res, 200, user);
    }

    send(res, 404, { error: 'not_found', path: url.pathname });
  });

  return {
    ...mock,
    log,
    clientId,
    clientSecret,
    authorizeUri: `${mock.url}/authorize`,
    tokenUri: `${mock.url}/token`,
    /** The entries of one kind, in order. */
    entries(kind) {
      return log.filter((e) => e.kind === kind);
    },
    /** True when `token` was issued by this provider. */
    issued(token) {
      return accessTokens.has(token);
    },
  };
}

/** An API whose `GET /me` answers `{id, name}` only with `x-api-key: <apiKey>`. */
async function startKeyApi({ apiKey, user = { id: 'key-user-1', name: 'Grace Hopper' } }) {
  const log = [];
  const mock = await listen((req, res) => {
    const url = new URL(req.url, 'http://mock');
    if (req.method === 'GET' && url.pathname === '/me') {
      const given = req.headers['x-api-key'];
      const ok = given === apiKey;
      log.push({ kind: 'me', ok, key: given });
      return ok ? send(res, 200, user) : send(res, 401, { message: 'invalid API key' });
    }
    send(res, 404, { error: 'not_found' });
  });
  return { ...mock, log, apiKey };
}

module.exports = { startOAuthProvider, startKeyApi, s256, b64url, readParams, send, listen, escapeHtml };
