'use strict';
// Authentication failures and write conflicts as the SDK surfaces them: every
// error body must carry a `type` the SDK maps to its own error class.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { sdk, useServer, signJwt, check, expectError, unique } = require('./harness');

describe('authentication and error mapping', () => {
  let server;
  let admin;

  useServer((s) => {
    server = s;
    admin = s.admin();
  });

  const now = () => Math.floor(Date.now() / 1000);

  it('accepts the SDK-minted customer token and an HS256 admin token', async () => {
    const me = check('TenantSelfResponse', await server.customer(unique('t')).self.get());
    assert.ok(me.id);
    const page = await admin.integrations.find();
    assert.ok(Array.isArray(page.items));
    // HS512 is accepted too.
    const hs512 = server.withToken(signJwt({ iss: server.workspaceKey, isAdmin: true }, server.workspaceSecret, 'HS512'));
    assert.ok(Array.isArray((await hs512.integrations.find()).items));
  });

  it('a wrong workspace secret is not_authenticated', async () => {
    const client = new sdk.MembraneClient({
      workspaceKey: server.workspaceKey,
      workspaceSecret: 'not-the-secret',
      tenantKey: unique('t'),
      apiUri: server.apiUri,
    });
    await expectError(client.self.get(), 'BadRequestError', 'not_authenticated');
    await expectError(client.integrations.find(), 'BadRequestError', 'not_authenticated');
  });

  it('an expired token is not_authenticated', async () => {
    const expired = signJwt({ iss: server.workspaceKey, id: unique('t'), exp: now() - 3600 }, server.workspaceSecret);
    await expectError(server.withToken(expired).self.get(), 'BadRequestError', 'not_authenticated');
    const expiredAdmin = signJwt({ iss: server.workspaceKey, isAdmin: true, exp: now() - 3600 }, server.workspaceSecret);
    await expectError(server.withToken(expiredAdmin).integrations.find(), 'BadRequestError', 'not_authenticated');
  });

  it('an unknown workspace, an unsigned token or a token naming nobody is not_authenticated', async () => {
    const unknownWs = signJwt({ iss: 'no-such-workspace', isAdmin: true }, server.workspaceSecret);
    await expectError(server.withToken(unknownWs).integrations.find(), 'BadRequestError', 'not_authenticated');

    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: server.workspaceKey, isAdmin: true })}.`;
    await expectError(server.withToken(unsigned).integrations.find(), 'BadRequestError', 'not_authenticated');

    const nobody = signJwt({ iss: server.workspaceKey }, server.workspaceSecret);
    await expectError(server.withToken(nobody).integrations.find(), 'BadRequestError', 'not_authenticated');

    // The body is not what the signature covers.
    const good = signJwt({ iss: server.workspaceKey, id: 'x' }, server.workspaceSecret);
    const [h, , s] = good.split('.');
    const tampered = `${h}.${b64({ iss: server.workspaceKey, isAdmin: true })}.${s}`;
    await expectError(server.withToken(tampered).integrations.find(), 'BadRequestError', 'not_authenticated');
  });

  it('a request without a token is not_authenticated', async () => {
    const r = await fetch(`${server.apiUri}/integrations`);
    const body = await r.json();
    assert.equal(body.type, 'bad_request');
    assert.equal(body.key, 'not_authenticated');
    assert.equal(r.status, 401);
  });

  it('a PATCH carrying a stale revision is a ConcurrencyError and changes nothing', async () => {
    const key = unique('conc');
    const created = await admin.integrations.create({ key, name: 'Original' });
    const first = await admin.integration(key).patch({ name: 'First', revision: created.revision });
    assert.equal(first.name, 'First');
    assert.notEqual(first.revision, created.revision);
    await expectError(admin.integration(key).patch({ name: 'Stale', revision: created.revision }), 'ConcurrencyError', 'stale_revision');
    const now = await admin.integration(key).get();
    assert.equal(now.name, 'First');
    assert.equal(now.revision, first.revision);

    const flow = await admin.flows.create({ key: unique('flow'), name: 'Flow' });
    await admin.flow(flow.id).patch({ description: 'v2' });
    await expectError(admin.flow(flow.id).patch({ description: 'stale', revision: flow.revision }), 'ConcurrencyError', 'stale_revision');
    assert.equal((await admin.flow(flow.id).get()).description, 'v2');
  });

  it('a PATCH of an archived element is a BadRequestError and changes nothing', async () => {
    const action = await admin.actions.create({ key: unique('act'), name: 'Archived action' });
    await admin.action(action.id).archive();
    await expectError(admin.action(action.id).patch({ name: 'changed' }), 'BadRequestError', 'not_editable');
    await expectError(admin.action(action.id).put({ name: 'changed' }), 'BadRequestError', 'not_editable');
    const still = await admin.action(action.id).get();
    assert.equal(still.name, 'Archived action');
    assert.ok(still.archivedAt);
  });

  it('an unknown route answers a typed not_found', async () => {
    await expectError(admin.get('/no-such-resource'), 'BadRequestError', 'not_found');
  });

  it('malformed bodies are bad_request, not a bare HTTP failure', async () => {
    await expectError(admin.integrations.create({ key: 42 }), 'BadRequestError', 'invalid_field');
    await expectError(admin.integrations.create({ name: 'x', meta: 'not-an-object' }), 'BadRequestError', 'invalid_field');
    await expectError(admin.post('/integrations', 'not json', { headers: { 'Content-Type': 'application/json' } }), 'BadRequestError', 'invalid_body');
  });
});
