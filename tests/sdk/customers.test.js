'use strict';
// Customers (and their `users` aliases), `/self`, the `credentials` client option, and
// tenancy: a customer token sees only its own customer.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { sdk, useServer, check, checkPage, expectError, unique, sleep } = require('./harness');

describe('customers, self and tenancy', () => {
  let server;
  let admin;

  useServer((s) => {
    server = s;
    admin = s.admin();
  });

  it('customers.create / customer(sel).get by id, by object selector and find', async () => {
    const internalId = unique('user');
    const created = check(
      'CustomerApiResponse',
      await admin.customers.create({ name: 'Ada', internalId, fields: { plan: 'pro' }, meta: { source: 'test' } }),
      'customers.create',
    );
    assert.equal(created.name, 'Ada');
    assert.equal(created.internalId, internalId);
    assert.deepEqual(created.fields, { plan: 'pro' });

    const byId = check('CustomerApiResponse', await admin.customer(created.id).get(), 'customer(id).get');
    assert.equal(byId.internalId, internalId);
    const byObject = check('CustomerApiResponse', await admin.customer({ id: created.id }).get(), 'customer({id}).get');
    assert.equal(byObject.id, created.id);

    const page = checkPage('CustomerApiResponse', await admin.customers.find(), 'customers.find');
    assert.ok(page.items.some((c) => c.id === created.id));
    const searched = checkPage('CustomerApiResponse', await admin.customers.find({ search: 'Ada' }));
    assert.ok(searched.items.some((c) => c.id === created.id));
    assert.ok(searched.items.every((c) => /ada/i.test(c.name) || /ada/i.test(c.internalId)));
    const all = await admin.customers.findAll();
    all.forEach((c) => check('CustomerApiResponse', c));
    assert.ok(all.some((c) => c.id === created.id));

    await expectError(admin.customers.create({ name: 'Ada again', internalId }), 'BadRequestError', 'already_exists');
    await expectError(admin.customer('cus_does_not_exist').get(), 'BadRequestError', 'not_found');
  });

  it('customer(sel).patch / put / archive / restore, through style A and style B paths', async () => {
    const created = await admin.customers.create({ name: 'Bob', internalId: unique('user'), fields: { a: 1 } });
    const patched = check('CustomerApiResponse', await admin.customer(created.id).patch({ name: 'Bobby' }), 'customer.patch');
    assert.equal(patched.name, 'Bobby');
    assert.deepEqual(patched.fields, { a: 1 });
    const patched2 = check('CustomerApiResponse', await admin.customer({ id: created.id }).patch({ fields: { b: 2 } }), 'customer({id}).patch');
    assert.deepEqual(patched2.fields, { b: 2 });
    assert.equal((await admin.customer(created.id).get()).name, 'Bobby');

    const put = check('CustomerApiResponse', await admin.customer(created.id).put({ name: 'Robert' }), 'customer.put');
    assert.equal(put.name, 'Robert');
    assert.equal(put.fields, undefined, 'PUT removes what it does not name');
    assert.equal(put.internalId, created.internalId, 'the internal id survives a PUT');

    await admin.customer(created.id).archive();
    const archived = check('CustomerApiResponse', await admin.customer(created.id).get());
    assert.equal(typeof archived.archivedAt, 'string');
    assert.equal((await admin.customers.findAll()).some((c) => c.id === created.id), false);
    assert.ok((await admin.customers.findAll({ includeArchived: true })).some((c) => c.id === created.id));
    await expectError(admin.customer(created.id).patch({ name: 'No' }), 'BadRequestError');

    const restored = check('CustomerApiResponse', await admin.customer({ id: created.id }).restore(), 'customer({id}).restore');
    assert.equal(restored.archivedAt, undefined);
    assert.ok((await admin.customers.findAll()).some((c) => c.id === created.id));
  });

  it('UsersAccessor / UserAccessor are aliases of the customer paths', async () => {
    const users = new sdk.UsersAccessor(admin);
    const internalId = unique('user');
    const created = check('CustomerApiResponse', await users.create({ name: 'Via users', internalId }), 'users.create');
    const user = new sdk.UserAccessor(admin, created.id);
    assert.equal(check('CustomerApiResponse', await user.get()).internalId, internalId);
    assert.equal((await user.patch({ name: 'Renamed user' })).name, 'Renamed user');
    assert.ok((await users.find()).items.some((u) => u.id === created.id));
    assert.ok((await users.findAll()).some((u) => u.id === created.id));
    await user.archive();
    assert.ok((await user.get()).archivedAt);
    assert.equal((await user.restore()).archivedAt, undefined);
  });

  it('self.get / self.patch for a customer token minted by the SDK', async () => {
    const tenantKey = unique('tenant');
    const client = server.customer(tenantKey);
    const me = check('TenantSelfResponse', await client.self.get(), 'self.get');
    assert.equal(me.internalId, tenantKey, 'the token id claim is the internal id');
    assert.equal(me.workspaceKey, server.workspaceKey);
    assert.ok(me.id);
    // The customer was created on first sight and the admin sees it.
    const seen = check('CustomerApiResponse', await admin.customer(me.id).get());
    assert.equal(seen.internalId, tenantKey);

    const renamed = check('TenantSelfResponse', await client.self.patch({ name: 'Renamed tenant' }), 'self.patch');
    assert.equal(renamed.name, 'Renamed tenant');
    assert.equal(renamed.workspaceKey, server.workspaceKey);
    assert.equal((await client.self.get()).name, 'Renamed tenant');
    assert.equal((await admin.customer(me.id).get()).name, 'Renamed tenant');

    const withCreds = await client.setCredentials({ apiKey: 'secret-1' });
    assert.deepEqual(withCreds.credentials, { apiKey: 'secret-1' });
    assert.deepEqual((await client.self.get()).credentials, { apiKey: 'secret-1' });
  });

  it('the credentials constructor option sends PATCH /self at start-up', async () => {
    const tenantKey = unique('tenant');
    const client = server.customer(tenantKey, { credentials: { token: 'from-constructor' } });
    // The SDK fires the PATCH without awaiting it; wait until the server has it.
    let me;
    for (let i = 0; i < 100; i++) {
      me = await client.self.get();
      if (me.credentials) break;
      await sleep(50);
    }
    check('TenantSelfResponse', me);
    assert.deepEqual(me.credentials, { token: 'from-constructor' });
  });

  it('self is only for customer tokens', async () => {
    await expectError(admin.self.get(), 'BadRequestError');
  });

  it('a customer token sees only its own customer', async () => {
    const a = server.customer(unique('tenant-a'));
    const b = server.customer(unique('tenant-b'));
    const meA = await a.self.get();
    const meB = await b.self.get();
    assert.notEqual(meA.id, meB.id);

    const listA = checkPage('CustomerApiResponse', await a.customers.find(), 'customer token customers.find');
    assert.deepEqual(listA.items.map((c) => c.id), [meA.id]);
    assert.deepEqual((await a.customers.findAll()).map((c) => c.id), [meA.id]);
    assert.equal(check('CustomerApiResponse', await a.customer(meA.id).get()).id, meA.id);

    await expectError(a.customer(meB.id).get(), 'BadRequestError', 'not_found');
    await expectError(a.customer({ id: meB.id }).get(), 'BadRequestError', 'not_found');
    await expectError(a.customer(meB.id).patch({ name: 'hijack' }), 'BadRequestError');
    await expectError(a.customers.create({ name: 'x', internalId: unique('x') }), 'BadRequestError', 'access_denied');
    assert.notEqual((await admin.customer(meB.id).get()).name, 'hijack');

    // The admin sees both.
    const all = await admin.customers.findAll();
    assert.ok(all.some((c) => c.id === meA.id) && all.some((c) => c.id === meB.id));
  });

  // Headless connections (client-credentials connectors) run the connector's test
  // against the external API; here a small HTTP server started by the test is that API.
  it('connections.create connects headless through the connector test; proxy passes through', async () => {
    const apiKey = `key-${unique('k')}`;
    const api = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        const ok = req.headers['x-api-key'] === apiKey;
        const url = new URL(req.url, 'http://x');
        const [status, payload] = !ok
          ? [403, { message: 'bad key' }]
          : url.pathname === '/me'
            ? [200, { id: 'u-1' }]
            : [201, { method: req.method, path: url.pathname, q: url.searchParams.get('q'), body: body ? JSON.parse(body) : null }];
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      });
    });
    await new Promise((r) => api.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${api.address().port}`;
    try {
      const connector = await admin.post('/connectors', {
        key: unique('mock'),
        name: 'Mock API',
        type: 'client-credentials',
        makeApiClient: { type: 'mapping', mapping: { baseUri: base, headers: { 'x-api-key': { $var: '$.credentials.apiKey' } } } },
        test: { type: 'rest-api-mapping', mapping: { path: '/me', method: 'GET' } },
      });
      const integration = await admin.integrations.create({ key: unique('mock'), name: 'Mock', connectorId: connector.id });
      const a = server.customer(unique('tenant-a'));
      const b = server.customer(unique('tenant-b'));

      // A wrong key fails the connector's test: a connection error, nothing stored.
      await expectError(a.connections.create({ integrationId: integration.id, input: { apiKey: 'wrong' } }), 'ConnectionError');
      assert.deepEqual((await a.connections.find()).items, []);

      const conn = check('ConnectionApiResponse', await a.connections.create({ integrationId: integration.id, name: 'A conn', input: { apiKey } }), 'connections.create');
      assert.equal(conn.connected, true);
      assert.equal(conn.state, 'READY');
      assert.equal(JSON.stringify(conn).includes(apiKey), false);
      const i = await a.integration(integration.key).get();
      assert.equal(i.isConnected, true);
      assert.equal(i.connection.id, conn.id);

      // Secrets: admins only.
      await expectError(a.connection(conn.id).get({ includeSecrets: true }), 'BadRequestError', 'access_denied');
      const secret = await admin.connection(conn.id).get({ includeSecrets: true });
      assert.equal(secret.credentials.apiKey, apiKey);

      // The proxy goes through the connection's API client.
      const got = await a.connection(conn.id).proxy.get('/things/1?q=x');
      assert.deepEqual(got, { method: 'GET', path: '/things/1', q: 'x', body: null });
      const posted = await a.connection(conn.id).proxy.post('/things', { n: 1 });
      assert.deepEqual(posted.body, { n: 1 });

      // Another customer sees nothing of it.
      await expectError(b.connection(conn.id).get(), 'BadRequestError', 'not_found');
      await expectError(b.connection(conn.id).proxy.get('/things/1'), 'BadRequestError', 'not_found');
      assert.equal((await b.integration(integration.key).get()).isConnected, false);

      await a.connection(conn.id).archive();
      assert.equal((await a.integration(integration.key).get()).isConnected, false);
    } finally {
      await new Promise((r) => api.close(r));
    }
  });

  it('connections.create is refused for connectors that need the interactive connect flow', async () => {
    const connector = await admin.post('/connectors', { key: unique('oauth'), name: 'OAuthy', type: 'oauth2' });
    const integration = await admin.integrations.create({ key: unique('hub'), name: 'Hub', connectorId: connector.id });
    const a = server.customer(unique('tenant-a'));
    await expectError(a.connections.create({ integrationId: integration.id, name: 'A conn' }), 'BadRequestError', 'not_supported');
    assert.deepEqual((await a.connections.find()).items, []);
    const i = await a.integration(integration.key).get();
    assert.equal(i.isConnected, false);
    assert.equal(i.connection, undefined);
  });

  it('an archived customer can no longer authenticate', async () => {
    const tenantKey = unique('tenant');
    const client = server.customer(tenantKey);
    const me = await client.self.get();
    await admin.customer(me.id).archive();
    await expectError(server.customer(tenantKey).self.get(), 'BadRequestError', 'not_authenticated');
    await admin.customer(me.id).restore();
    assert.equal((await server.customer(tenantKey).self.get()).id, me.id);
  });
});
