'use strict';
// Customers (and their `users` aliases), `/self`, the `credentials` client option, and
// tenancy: a customer token sees only its own customer.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { sdk, useServer, check, checkPage, expectError, startMockApi, unique, sleep } = require('./harness');

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
    await expectError(admin.customer(created.id).patch({ name: 'No' }), 'BadRequestError', 'not_editable');

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

    const withCreds = check('TenantSelfResponse', await client.setCredentials({ apiKey: 'secret-1' }), 'setCredentials');
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
    await expectError(admin.self.get(), 'BadRequestError', 'access_denied');
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
    await expectError(a.customer(meB.id).patch({ name: 'hijack' }), 'BadRequestError', 'not_found');
    await expectError(a.customers.create({ name: 'x', internalId: unique('x') }), 'BadRequestError', 'access_denied');
    assert.notEqual((await admin.customer(meB.id).get()).name, 'hijack');

    // The admin sees both.
    const all = await admin.customers.findAll();
    assert.ok(all.some((c) => c.id === meA.id) && all.some((c) => c.id === meB.id));
  });

  /**
   * An API-key API (a mock wanting `x-api-key: apiKey`, `/me` its connector's test,
   * anything else echoed back), a client-credentials connector for it with one
   * operation, and an integration of that connector.
   */
  async function apiKeyIntegration(apiKey) {
    const api = await startMockApi((req, { url, body }) => {
      if (req.headers['x-api-key'] !== apiKey) return [403, { message: 'bad key' }];
      if (url.pathname === '/me') return [200, { id: 'u-1' }];
      return [201, { method: req.method, path: url.pathname, q: url.searchParams.get('q'), body }];
    });
    try {
      const connector = await admin.post('/connectors', {
        key: unique('mock'),
        name: 'Mock API',
        type: 'client-credentials',
        makeApiClient: { type: 'mapping', mapping: { baseUri: api.base, headers: { 'x-api-key': { $var: '$.credentials.apiKey' } } } },
        test: { type: 'rest-api-mapping', mapping: { path: '/me', method: 'GET' } },
        operations: [{ key: 'whoami', name: 'Who am I', run: { type: 'rest-api-mapping', mapping: { path: '/me', method: 'GET' } } }],
      });
      const integration = await admin.integrations.create({ key: unique('mock'), name: 'Mock', connectorId: connector.id });
      return { api, integration };
    } catch (e) {
      await api.close();
      throw e;
    }
  }

  // Headless connections (client-credentials connectors) run the connector's test
  // against the external API; here a small HTTP server started by the test is that API.
  it('connections.create connects headless through the connector test; proxy passes through', async () => {
    const apiKey = `key-${unique('k')}`;
    const { api, integration } = await apiKeyIntegration(apiKey);
    try {
      const a = server.customer(unique('tenant-a'));
      const b = server.customer(unique('tenant-b'));

      // A wrong key fails the connector's test: a connection error, nothing stored. It
      // carries no key: the documented ones (defunct, expired token, rate limit) do not apply.
      await expectError(a.connections.create({ integrationId: integration.id, input: { apiKey: 'wrong' } }), 'ConnectionError', null);
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
      const secret = check('ConnectionApiResponseWithSecrets', await admin.connection(conn.id).get({ includeSecrets: true }), 'connection.get({includeSecrets})');
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
      await api.close();
    }
  });

  // Connections and the flow instances on them belong to one customer. Another
  // customer learns nothing of them: every refusal is `not_found`, what an id that
  // never existed answers, never `access_denied`. Admins see everything.
  it('connections and flow instances are visible only to their customer (and admins)', async () => {
    const apiKey = `key-${unique('k')}`;
    const { api, integration } = await apiKeyIntegration(apiKey);
    try {
      const flow = await admin.flows.create({ key: unique('flow'), name: 'Sync', nodes: { t: { type: 'api-trigger' } } });
      const a = server.customer(unique('tenant-a'));
      const b = server.customer(unique('tenant-b'));
      const meA = await a.self.get();

      const conn = check('ConnectionApiResponse', await a.connections.create({ integrationId: integration.id, name: 'A conn', input: { apiKey } }), 'connections.create');
      assert.equal(conn.userId, meA.id, 'the creating customer owns the connection');
      assert.equal(conn.integrationId, integration.id);
      const instance = check(
        'FlowInstanceApiResponse',
        await a.flowInstance({ flowKey: flow.key, connectionId: conn.id, autoCreate: true }).get(),
        'flowInstance({flowKey, connectionId, autoCreate}).get',
      );
      assert.equal(instance.flowId, flow.id);
      assert.equal(instance.connectionId, conn.id);
      assert.equal(instance.userId, meA.id);

      assert.deepEqual((await a.connections.find()).items.map((c) => c.id), [conn.id]);
      assert.deepEqual((await a.flowInstances.find()).items.map((f) => f.id), [instance.id]);
      assert.equal(check('FlowInstanceApiResponse', await a.flowInstance(instance.id).get()).id, instance.id);

      // B lists nothing, by any filter.
      assert.deepEqual((await b.connections.find()).items, []);
      assert.deepEqual((await b.connections.find({ integrationId: integration.id })).items, []);
      assert.deepEqual((await b.flowInstances.find()).items, []);
      assert.deepEqual((await b.flowInstances.find({ connectionId: conn.id })).items, []);
      const seenByB = await b.integration(integration.key).get();
      assert.equal(seenByB.isConnected, false);
      assert.equal(seenByB.connection, undefined);

      // B can neither read, change, archive, restore nor call A's connection.
      const theirs = b.connection(conn.id);
      await expectError(theirs.get(), 'BadRequestError', 'not_found');
      await expectError(theirs.patch({ name: 'hijack' }), 'BadRequestError', 'not_found');
      await expectError(theirs.put({ name: 'hijack' }), 'BadRequestError', 'not_found');
      await expectError(theirs.archive(), 'BadRequestError', 'not_found');
      await expectError(b.post(`/connections/${conn.id}/restore`), 'BadRequestError', 'not_found');
      await expectError(theirs.refreshCredentials(), 'BadRequestError', 'not_found');
      await expectError(theirs.proxy.get('/me'), 'BadRequestError', 'not_found');
      await expectError(theirs.request('/me'), 'BadRequestError', 'not_found');
      await expectError(theirs.operation('whoami').run({ input: {} }), 'BadRequestError', 'not_found');
      await expectError(theirs.flow(flow.key).get({ autoCreate: true }), 'BadRequestError', 'not_found');

      // Nor read, make, change or archive A's flow instance.
      await expectError(b.flowInstance(instance.id).get(), 'BadRequestError', 'not_found');
      await expectError(b.flowInstance({ flowKey: flow.key, connectionId: conn.id, autoCreate: true }).get(), 'BadRequestError', 'not_found');
      await expectError(b.flowInstance(instance.id).patch({ name: 'hijack' }), 'BadRequestError', 'not_found');
      await expectError(b.flowInstance(instance.id).archive(), 'BadRequestError', 'not_found');

      // A's connection and instance are as they were.
      const connAfter = await a.connection(conn.id).get();
      assert.equal(connAfter.name, 'A conn');
      assert.equal(connAfter.archivedAt, undefined);
      assert.equal(connAfter.connected, true);
      const instanceAfter = await a.flowInstance(instance.id).get();
      assert.equal(instanceAfter.name, instance.name);
      assert.equal(instanceAfter.archivedAt, undefined);
      assert.deepEqual((await a.flowInstances.find()).items.map((f) => f.id), [instance.id]);

      assert.ok((await admin.connections.find()).items.some((c) => c.id === conn.id));
      assert.ok((await admin.flowInstances.find()).items.some((f) => f.id === instance.id));
    } finally {
      await api.close();
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
