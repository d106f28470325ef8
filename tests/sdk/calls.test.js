'use strict';
// Calls through a connection with the SDK's own accessors: the proxy, operations,
// every data collection method, and the external API logs they leave (no SDK
// accessor: read with the raw client, checked with `ExternalApiLogApiResponse`).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, check, checkPage, expectError, startMockApi, unique, sleep } = require('./harness');

describe('calls through a connection', () => {
  let server;
  let admin;
  let api;
  let apiKey;
  let a;
  let b;
  let conn;
  const contacts = new Map();

  useServer((s) => {
    server = s;
    admin = s.admin();
  });

  before(async () => {
    apiKey = `key-${unique('k')}`;
    for (let i = 1; i <= 5; i++) contacts.set(String(i), { id: String(i), full_name: `Person ${i}`, email: `p${i}@x.io` });
    api = await startMockApi((req, { url, body: data }) => {
      if (req.headers['x-api-key'] !== apiKey) return [401, { message: 'bad key' }];
      const parts = url.pathname.split('/').filter(Boolean);
      if (url.pathname === '/me') return [200, { id: 'u-1', name: 'Ada' }];
      if (parts[0] === 'echo') return [201, { method: req.method, path: url.pathname, q: url.searchParams.get('q'), body: data }];
      if (parts[0] === 'contacts' && parts.length === 1) {
        if (req.method === 'POST') {
          const id = String(100 + contacts.size);
          contacts.set(id, { id, ...data });
          return [201, { id }];
        }
        const q = url.searchParams.get('q');
        const email = url.searchParams.get('email');
        const all = [...contacts.values()].filter((c) => (!q || c.full_name.toLowerCase().includes(q.toLowerCase())) && (!email || c.email === email));
        const start = Number(url.searchParams.get('cursor') || 0);
        const next = start + 2 < all.length ? String(start + 2) : null;
        return [200, { items: all.slice(start, start + 2), next }];
      }
      if (parts[0] === 'contacts') {
        const c = contacts.get(parts[1]);
        if (!c) return [404, { message: 'no such contact' }];
        if (req.method === 'GET') return [200, c];
        if (req.method === 'PATCH') return [200, Object.assign(c, data)];
        if (req.method === 'DELETE') {
          contacts.delete(parts[1]);
          return [204, undefined];
        }
      }
      return [404, { message: 'no route' }];
    });
    const base = api.base;
    const v = (p) => ({ $var: p });
    const rest = (path, method, requestMapping, responseMapping) => ({
      type: 'rest-api-mapping',
      mapping: { path, method, ...(requestMapping && { requestMapping }), ...(responseMapping && { responseMapping }) },
    });
    const connector = await admin.post('/connectors', {
      key: unique('crm'),
      name: 'CRM',
      type: 'client-credentials',
      makeApiClient: { type: 'mapping', mapping: { baseUri: base, headers: { 'x-api-key': v('$.credentials.apiKey') } } },
      test: rest('/me', 'GET'),
      operations: [
        { key: 'whoami', name: 'Who am I', run: rest('/me', 'GET', null, { name: v('$.response.data.name') }) },
      ],
      data: {
        contacts: {
          name: 'Contacts',
          list: rest('/contacts', 'GET', { query: { cursor: v('$.cursor') } }, { records: v('$.response.data.items'), cursor: v('$.response.data.next') }),
          search: rest('/contacts', 'GET', { query: { q: v('$.query') } }, { records: v('$.response.data.items') }),
          match: rest('/contacts', 'GET', { query: { email: v('$.query.email') } }, { record: v('$.response.data.items[0]') }),
          findById: rest('/contacts/{id}', 'GET', { pathParameters: { id: v('$.id') } }),
          create: rest('/contacts', 'POST', { data: v('$.fields') }, { id: v('$.response.data.id') }),
          update: rest('/contacts/{id}', 'PATCH', { pathParameters: { id: v('$.id') }, data: v('$.fields') }),
          delete: rest('/contacts/{id}', 'DELETE', { pathParameters: { id: v('$.id') } }),
          recordFromApi: { type: 'mapping', mapping: { id: v('$.id'), name: v('$.full_name'), fields: { email: v('$.email'), name: v('$.full_name'), list: v('$.parameters.listId') } } },
          fieldsToApi: { type: 'mapping', mapping: { full_name: v('$.fields.name'), email: v('$.fields.email') } },
        },
      },
    });
    const integration = await admin.integrations.create({ key: unique('crm'), name: 'CRM', connectorId: connector.id });
    a = server.customer(unique('tenant-a'));
    b = server.customer(unique('tenant-b'));
    conn = await a.connections.create({ integrationId: integration.id, name: 'A CRM', input: { apiKey } });
  });

  after(() => api?.close());

  it('connection(c).proxy.get/post/put/patch/delete pass through the connection', async () => {
    const p = a.connection(conn.id).proxy;
    const got = await p.get('/echo/1?q=x');
    assert.deepEqual(got, { method: 'GET', path: '/echo/1', q: 'x', body: null });
    assert.deepEqual((await p.post('/echo/2', { n: 1 })).body, { n: 1 });
    assert.equal((await p.put('/echo/3', { n: 2 })).method, 'PUT');
    assert.equal((await p.patch('/echo/4', { n: 3 })).method, 'PATCH');
    assert.equal((await p.delete('/echo/5')).method, 'DELETE');
    await expectError(b.connection(conn.id).proxy.get('/echo/1'), 'BadRequestError', 'not_found');
  });

  it('connection(c).request (legacy /api pass-through), patch, put, refreshCredentials, archive and restore', async () => {
    const echoed = await a.connection(conn.id).request('/echo/legacy', { n: 7 });
    assert.equal(echoed.method, 'POST');
    assert.deepEqual(echoed.body, { n: 7 });
    const patched = check('ConnectionApiResponse', await a.connection(conn.id).patch({ name: 'Renamed CRM' }), 'connection.patch');
    assert.equal(patched.name, 'Renamed CRM');
    const put = check('ConnectionApiResponse', await a.connection(conn.id).put({ name: 'Put CRM' }), 'connection.put');
    assert.equal(put.name, 'Put CRM');
    // An API-key connector re-derives its credentials from the input: still connected.
    await a.connection(conn.id).refreshCredentials();
    assert.equal((await a.connection(conn.id).get()).connected, true);
    await expectError(b.connection(conn.id).refreshCredentials(), 'BadRequestError', 'not_found');
    const connected = await a.connections.find({ connected: true });
    assert.deepEqual(connected.items.map((c) => c.id), [conn.id]);
    await a.connection(conn.id).archive();
    assert.deepEqual((await a.connections.find()).items, []);
    const restored = check('ConnectionApiResponse', await a.post(`/connections/${conn.id}/restore`), 'POST /connections/{id}/restore');
    assert.equal(restored.id, conn.id);
    assert.equal(restored.archivedAt, undefined);
    assert.equal((await a.connections.find()).items.length, 1);
  });

  it('connection(c).operation(k).get() and .run()', async () => {
    const op = check('OperationSpec', await a.connection(conn.id).operation('whoami').get(), 'operation.get');
    assert.equal(op.key, 'whoami');
    assert.equal(op.name, 'Who am I');
    const run = check('ConnectionOperationRunResponse', await a.connection(conn.id).operation('whoami').run({ input: {} }), 'operation.run');
    assert.deepEqual(run.output, { name: 'Ada' });
    await expectError(a.connection(conn.id).operation('nope').run({}), 'BadRequestError', 'not_found');
    await expectError(b.connection(conn.id).operation('whoami').run({}), 'BadRequestError', 'not_found');
  });

  it('connection(c).dataCollection(k, params): get, list, findById, search, match, create, update, delete', async () => {
    const dc = a.connection(conn.id).dataCollection('contacts', { listId: 'L1' });
    const spec = check('DataCollectionSpec', await dc.get(), 'dataCollection.get');
    assert.equal(spec.name, 'Contacts');

    const ids = [];
    let cursor;
    do {
      const page = check('DataCollectionListResponse', await dc.list(cursor ? { cursor } : {}), 'list');
      for (const r of page.records) {
        assert.equal(r.fields.list, 'L1');
        ids.push(r.id);
      }
      cursor = page.cursor;
    } while (cursor);
    assert.deepEqual(ids, ['1', '2', '3', '4', '5']);

    const found = check('DataCollectionFindByIdResponse', await dc.findById({ id: '3' }), 'findById');
    assert.equal(found.record.name, 'Person 3');
    const searched = check('DataCollectionSearchResponse', await dc.search({ query: 'person 4' }), 'search');
    assert.deepEqual(searched.records.map((r) => r.id), ['4']);
    const matched = check('DataCollectionMatchResponse', await dc.match({ query: { email: 'p2@x.io' } }), 'match');
    assert.equal(matched.record.id, '2');

    const created = check('DataCollectionCreateResponse', await dc.create({ fields: { name: 'Grace', email: 'g@x.io' } }), 'create');
    assert.equal(contacts.get(created.id).full_name, 'Grace');
    const updated = check('DataCollectionUpdateResponse', await dc.update({ id: created.id, fields: { name: 'Grace H', email: 'g@x.io' } }), 'update');
    assert.equal(updated.id, created.id);
    assert.equal(contacts.get(created.id).full_name, 'Grace H');
    const deleted = await dc.delete({ id: created.id });
    assert.ok(deleted === undefined || deleted === '' || deleted === null, `delete answers nothing, got ${JSON.stringify(deleted)}`);
    assert.equal(contacts.has(created.id), false);

    await expectError(a.connection(conn.id).dataCollection('tickets').list({}), 'BadRequestError', 'not_found');
    await expectError(b.connection(conn.id).dataCollection('contacts').list({}), 'BadRequestError', 'not_found');
  });

  it('external API logs: every call, masked, each customer its own', async () => {
    let page;
    for (let i = 0; i < 100; i++) {
      page = await a.get('/external-api-logs', { connectionId: conn.id, limit: 100 });
      if (page.items.length >= 15) break;
      await sleep(50);
    }
    checkPage('ExternalApiLogApiResponse', page, 'external-api-logs');
    assert.ok(page.items.length >= 15, `only ${page.items.length} logs`);
    const detail = check('ExternalApiLogDetail', await a.get(`/external-api-logs/${page.items[0].id}`), 'GET /external-api-logs/{id}');
    assert.equal(detail.id, page.items[0].id);
    assert.equal(typeof detail.request.method, 'string');
    assert.equal(detail.request.headers['x-api-key'], '***');
    assert.ok(!JSON.stringify(detail).includes(apiKey));

    const asc = await a.get('/external-api-logs', { connectionId: conn.id, sortOrder: 'asc', limit: 1 });
    assert.equal(asc.items.length, 1);
    assert.equal(typeof asc.cursor, 'string');

    assert.deepEqual((await b.get('/external-api-logs')).items, []);
    await expectError(b.get(`/external-api-logs/${page.items[0].id}`), 'BadRequestError', 'not_found');
    const all = checkPage('ExternalApiLogApiResponse', await admin.get('/external-api-logs', { limit: 1000 }), 'admin external-api-logs');
    assert.ok(all.items.length >= page.items.length);
  });
});
