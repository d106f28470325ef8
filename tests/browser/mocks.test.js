'use strict';
// The mock provider and API themselves: the browser tests lean on them to say what
// Osmosis did (PKCE, client auth, redirect_uri), so they are checked first, with
// plain HTTP and no browser.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { test, before, after } = require('node:test');
const { startOAuthProvider, startKeyApi, s256, b64url } = require('./mocks');

const CLIENT_ID = 'client-abc';
const CLIENT_SECRET = 'secret-xyz';
const REDIRECT = 'http://127.0.0.1:9/oauth-callback';

let provider;
let keyApi;
before(async () => {
  provider = await startOAuthProvider({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, allowRedirect: (u) => u.startsWith('http://127.0.0.1:9/') });
  keyApi = await startKeyApi({ apiKey: 'k-1' });
});
after(async () => {
  await provider.close();
  await keyApi.close();
});

const nav = (url) => fetch(url, { redirect: 'manual' });

/** Authorize and approve: the code from the redirect. */
async function authorize(extra = {}) {
  const u = new URL(provider.authorizeUri);
  const q = { client_id: CLIENT_ID, response_type: 'code', redirect_uri: REDIRECT, state: 'st-1', scope: 'read', ...extra };
  for (const [k, v] of Object.entries(q)) if (v !== undefined) u.searchParams.set(k, v);
  const page = await nav(u);
  assert.equal(page.status, 200, await page.clone().text());
  const html = await page.text();
  assert.match(html, /id="approve"/);
  assert.match(html, /id="deny"/);
  const tx = /name="tx" value="([^"]+)"/.exec(html)[1];
  return { tx, html };
}

async function decide(tx, decision) {
  const r = await nav(`${provider.url}/decide?tx=${tx}&decision=${decision}`);
  assert.equal(r.status, 302);
  return new URL(r.headers.get('location'));
}

function token(params, basic = true) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams(params);
  if (basic) headers.authorization = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;
  else {
    body.set('client_id', CLIENT_ID);
    body.set('client_secret', CLIENT_SECRET);
  }
  return fetch(provider.tokenUri, { method: 'POST', headers, body });
}

test('authorize refuses a wrong client, response type or redirect URI without redirecting', async () => {
  for (const [extra, problem] of [
    [{ client_id: 'other' }, /client_id/],
    [{ response_type: 'token' }, /response_type/],
    [{ redirect_uri: 'http://evil.example/cb' }, /redirect_uri/],
    [{ redirect_uri: undefined }, /redirect_uri/],
  ]) {
    const u = new URL(provider.authorizeUri);
    const q = { client_id: CLIENT_ID, response_type: 'code', redirect_uri: REDIRECT, state: 's', ...extra };
    for (const [k, v] of Object.entries(q)) if (v !== undefined) u.searchParams.set(k, v);
    const r = await nav(u);
    assert.equal(r.status, 400);
    assert.match(await r.text(), problem);
  }
});

test('code with PKCE S256: the right verifier gets tokens once, the token opens /api/me', async () => {
  const verifier = b64url(crypto.randomBytes(32));
  const { tx } = await authorize({ code_challenge: s256(verifier), code_challenge_method: 'S256' });
  const back = await decide(tx, 'approve');
  assert.equal(back.origin + back.pathname, REDIRECT);
  assert.equal(back.searchParams.get('state'), 'st-1');
  const code = back.searchParams.get('code');
  assert.ok(code);
  assert.equal(provider.entries('redirect').at(-1).location, back.toString());

  let r = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
  assert.equal(r.status, 400);
  assert.match((await r.json()).error_description, /code_verifier missing/);
  r = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: 'wrong' });
  assert.equal(r.status, 400);
  r = await token({ grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:9/other', code_verifier: verifier });
  assert.match((await r.json()).error_description, /redirect_uri/);
  r = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, false);
  assert.equal(r.status, 200);
  const t = await r.json();
  assert.deepEqual(Object.keys(t).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type']);
  assert.equal(t.expires_in, 3600);
  assert.equal(t.token_type, 'bearer');
  const last = provider.entries('token').at(-1);
  assert.equal(last.pkce, 'verified');
  assert.equal(last.clientAuth, 'body');

  r = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
  assert.match((await r.json()).error_description, /already used/);

  assert.equal((await fetch(`${provider.url}/api/me`)).status, 401);
  assert.equal((await fetch(`${provider.url}/api/me`, { headers: { authorization: 'Bearer nope' } })).status, 401);
  const me = await fetch(`${provider.url}/api/me`, { headers: { authorization: `Bearer ${t.access_token}` } });
  assert.equal(me.status, 200);
  assert.deepEqual(Object.keys(await me.json()).sort(), ['id', 'name']);

  r = await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token });
  assert.equal(r.status, 200);
});

test('client authentication is checked, Basic or body', async () => {
  const { tx } = await authorize();
  const code = (await decide(tx, 'approve')).searchParams.get('code');
  const r = await fetch(provider.tokenUri, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${CLIENT_ID}:bad`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT }),
  });
  assert.equal(r.status, 401);
  assert.equal((await r.json()).error, 'invalid_client');
  const ok = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
  assert.equal(ok.status, 200, 'without a challenge no verifier is needed');
  assert.equal(provider.entries('token').at(-1).clientAuth, 'basic');
});

test('deny redirects with error=access_denied and the state; a transaction is single-use', async () => {
  const { tx } = await authorize({ state: 'st-deny' });
  const back = await decide(tx, 'deny');
  assert.equal(back.searchParams.get('error'), 'access_denied');
  assert.equal(back.searchParams.get('state'), 'st-deny');
  assert.equal(back.searchParams.get('code'), null);
  const again = await nav(`${provider.url}/decide?tx=${tx}&decision=approve`);
  assert.equal(again.status, 400);
});

test('the API-key API answers /me only with the right x-api-key', async () => {
  assert.equal((await fetch(`${keyApi.url}/me`)).status, 401);
  assert.equal((await fetch(`${keyApi.url}/me`, { headers: { 'x-api-key': 'k-2' } })).status, 401);
  const r = await fetch(`${keyApi.url}/me`, { headers: { 'x-api-key': 'k-1' } });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(await r.json()).sort(), ['id', 'name']);
});
