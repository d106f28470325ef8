'use strict';
// Actions with the SDK's own accessors: action(x).run, actionInstance(x).run,
// connection(c).action(a).run, connectionRequest, and the run logs they leave (no SDK
// accessor: read with the raw client, checked with the SDK's
// `ActionRunLogRecordApiResponse`). Each customer reaches only its own.

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
