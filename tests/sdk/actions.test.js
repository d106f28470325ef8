'use strict';
// Actions with the SDK's own accessors: action(x).run, actionInstance(x).run,
// connection(c).action(a).run, connectionRequest, the same chains on a run-javascript
// action's `membrane`, and the run logs they leave (no SDK accessor: read with the
// raw client, checked with the SDK's `ActionRunLogRecordApiResponse`). Each customer
// reaches only its own.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, check, checkPage, expectError, startMockApi, unique } = require('./harness');

describe('actions', () => {
  let server;
  let admin;
  let api;
  let apiKey;
  let a;
  let b;
  let conn;
  let integration;
  const key = unique('echo');

  useServer((s) => {
    server = s;
    admin = s.admin();
  });

  before(async () => {
    apiKey = `key-${unique('k')}`;
    api = await startMockApi((req, { url, body }) => {
      if (req.headers['x-api-key'] !== apiKey) return [401, { message: 'bad key' }];
      if (url.pathname === '/me') return [200, { id: 'u-1', name: 'Ada' }];
      if (url.pathname.startsWith('/echo')) return [200, { method: req.method, path: url.pathname, body }];
      if (url.pathname === '/teapot') return [418, { message: 'short and stout' }];
      return [404, { message: 'no route' }];
    });
    const v = (p) => ({ $var: p });
    const connector = await admin.post('/connectors', {
      key: unique('crm'),
      name: 'CRM',
      type: 'client-credentials',
      makeApiClient: { type: 'mapping', mapping: { baseUri: api.base, headers: { 'x-api-key': v('$.credentials.apiKey') } } },
      test: { type: 'rest-api-mapping', mapping: { path: '/me', method: 'GET' } },
    });
    integration = await admin.integrations.create({ key: unique('crm'), name: 'CRM', connectorId: connector.id });
    a = server.customer(unique('tenant-a'));
    b = server.customer(unique('tenant-b'));
    conn = await a.connections.create({ integrationId: integration.id, name: 'A CRM', input: { apiKey } });
    await b.connections.create({ integrationId: integration.id, name: 'B CRM', input: { apiKey } });
    await admin.actions.create({
      key,
      name: 'Echo',
      type: 'api-request-to-external-app',
      inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
      config: { request: { method: 'POST', path: '/echo/action', data: { text: v('$.input.text') } } },
      outputMapping: { said: v('$.output.body.text'), by: v('$.user.id') },
    });
  });

  after(() => api?.close());

  it('action(x).run runs on the connection the options name, the input fitted to its schema', async () => {
    const run = check('ActionRunResponse', await a.action(key).run({ text: 'hi', extra: 1 }, { connectionId: conn.id }), 'action.run');
    assert.equal(run.output.said, 'hi');
    assert.equal(typeof run.actionRunId, 'string');
    // By integration key: each customer gets its own connection.
    const bobs = await b.action(key).run({ text: 'yo' }, { integrationKey: integration.key });
    assert.equal(bobs.output.said, 'yo');
    assert.notEqual(bobs.output.by, run.output.by);
    const byQuery = await a.action({ key, integrationKey: integration.key }).run({ text: 'q' });
    assert.equal(byQuery.output.said, 'q');
    await expectError(a.action(key).run({ text: 5 }, { connectionId: conn.id }), 'BadRequestError', 'invalid_field');
    await expectError(b.action(key).run({ text: 'x' }, { connectionId: conn.id }), 'BadRequestError', 'not_found');
    await expectError(a.action('no-such-action').run({}, { connectionId: conn.id }), 'BadRequestError', 'not_found');
  });

  it('connection(c).action(a).run and actionInstance(x).run run the connection-level copy', async () => {
    const instance = check('ActionInstanceApiResponse', await a.connection(conn.id).action(key).get({ autoCreate: true }), 'connection.action.get');
    assert.equal(instance.connectionId, conn.id);
    const viaConnection = check('ActionRunResponse', await a.connection(conn.id).action(key).run({ text: 'c' }), 'connection.action.run');
    assert.equal(viaConnection.output.said, 'c');
    const viaInstance = check('ActionRunResponse', await a.actionInstance(instance.id).run({ text: 'i' }), 'actionInstance.run');
    assert.equal(viaInstance.output.said, 'i');
    await expectError(b.actionInstance(instance.id).run({ text: 'no' }), 'BadRequestError', 'not_found');
    await expectError(b.connection(conn.id).action(key).run({ text: 'no' }), 'BadRequestError', 'not_found');
  });

  it('connectionRequest sends a request through the connection', async () => {
    const echoed = await a.connectionRequest(conn.id, 'PUT /echo/legacy', { n: 1 });
    assert.deepEqual(echoed, { method: 'PUT', path: '/echo/legacy', body: { n: 1 } });
    await expectError(b.connectionRequest(conn.id, '/echo/x'), 'BadRequestError', 'not_found');
  });

  it("run-javascript's membrane answers the SDK's chains as the SDK client does, as the run's customer", async () => {
    const jsKey = unique('chains');
    const bConn = (await b.connections.find()).items[0].id;
    await admin.actions.create({
      key: jsKey,
      name: 'Chains',
      type: 'run-javascript',
      config: {
        code: `export default async ({ membrane }) => {
          const denied = async (call) => { try { await call(); return 'answered'; } catch (e) { return e.data?.key ?? e.message; } };
          return {
            run: await membrane.connection('${conn.id}').action('${key}').run({ text: 'js' }),
            byOption: await membrane.action('${key}').run({ text: 'opt' }, { connectionId: '${conn.id}' }),
            connections: await membrane.connections.find(),
            connection: await membrane.connection('${conn.id}').get(),
            integration: await membrane.integration('${integration.key}').get(),
            echoed: await membrane.connectionRequest('${conn.id}', 'PUT /echo/js', { n: 2 }),
            unknown: await denied(() => membrane.connection('${conn.id}').action('no-such-action').run({})),
            othersRun: await denied(() => membrane.connection('${bConn}').action('${key}').run({ text: 'no' })),
            othersGet: await denied(() => membrane.connection('${bConn}').get()),
          };
        }`,
      },
    });
    const run = check('ActionRunResponse', await a.action(jsKey).run({}, { connectionId: conn.id }), 'action.run (run-javascript)');
    const js = run.output;
    // The same chains through the SDK itself.
    const sdkRun = check('ActionRunResponse', js.run, 'membrane.connection.action.run');
    assert.deepEqual(sdkRun.output, (await a.connection(conn.id).action(key).run({ text: 'js' })).output);
    check('ActionRunResponse', js.byOption, 'membrane.action.run');
    assert.equal(js.byOption.output.said, 'opt');
    const page = checkPage('ConnectionApiResponse', js.connections, 'membrane.connections.find');
    assert.deepEqual(page.items.map((c) => c.id), (await a.connections.find()).items.map((c) => c.id));
    assert.ok(!page.items.some((c) => c.id === bConn), "another customer's connection is not listed");
    assert.equal(check('ConnectionApiResponse', js.connection, 'membrane.connection.get').id, conn.id);
    assert.equal(check('IntegrationApiResponse', js.integration, 'membrane.integration.get').id, integration.id);
    assert.deepEqual(js.echoed, await a.connectionRequest(conn.id, 'PUT /echo/js', { n: 2 }));
    assert.deepEqual([js.unknown, js.othersRun, js.othersGet], ['not_found', 'not_found', 'not_found']);
  });

  it('action run logs: every run, each customer its own, with its external calls', async () => {
    const failed = await a.post('/act', { api: { path: '/teapot' }, connectionId: conn.id }).catch((e) => e);
    assert.equal(typeof failed.data?.actionRunId, 'string', `a failed run names its record: ${JSON.stringify(failed.data)}`);
    const page = checkPage('ActionRunLogRecordApiResponse', await a.get('/action-run-logs', { limit: 100 }), 'action-run-logs');
    assert.ok(page.items.length >= 5, `${page.items.length} runs`);
    assert.equal(page.items[0].id, failed.data.actionRunId, 'newest first');
    assert.equal(page.items[0].status, 'error');
    assert.ok(page.items.every((r) => r.connectionId === conn.id));
    const ok = page.items.find((r) => r.status === 'success');
    const one = check('ActionRunLogRecordApiResponse', await a.get(`/action-run-logs/${ok.id}`), 'GET /action-run-logs/{id}');
    assert.equal(one.connection.id, conn.id);
    const detailed = check('ActionRunLogDetail', await a.get(`/action-run-logs/${ok.id}`, { details: true }), 'details=true');
    assert.equal(detailed.details.externalApiCalls.length, 1);
    assert.ok(!JSON.stringify(detailed).includes(apiKey), 'the key never shows');
    const errors = checkPage('ActionRunLogRecordApiResponse', await a.get('/action-run-logs', { status: 'error' }), 'status=error');
    assert.deepEqual(errors.items.map((r) => r.id), [failed.data.actionRunId]);
    await expectError(b.get(`/action-run-logs/${ok.id}`), 'BadRequestError', 'not_found');
    assert.ok((await b.get('/action-run-logs')).items.every((r) => r.connectionId !== conn.id));
  });
});
