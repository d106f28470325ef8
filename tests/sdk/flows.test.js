'use strict';
// Flow runs with the SDK's own accessors (api-surface §2.10, §6.4–6.6):
// flowInstance(x).run/startRun, flowRuns.find/create, flowRun(id).get/stop/
// getOutput/getNodeRuns/getNodeRun/getNodeOutputs/getNodeOutput/repeat, and
// connection(c).flow(f).run, every answer parsed with the SDK's zod schemas. Each
// customer reaches only its own runs.
//
// `flowInstance(x).run()` polls `GET /flow-runs/{id}` every second, so only two
// tests use it; the others wait with Osmosis' long poll (`?wait=<seconds>`).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { useServer, check, expectError, startMockApi, unique } = require('./harness');

/**
 * Keys Osmosis' node runs carry beyond the SDK's node run schemas (which zod would
 * drop): the node's key and name, and when the node run started and ended.
 */
const NODE_RUN_EXTRAS = ['nodeKey', 'nodeName', 'startTime', 'endTime'];

/** `check` of a node run: the SDK's schema, plus the extras above, typed. */
function checkNodeRun(schemaName, run, where) {
  assert.equal(typeof run.nodeKey, 'string', `${where}: nodeKey`);
  for (const k of ['startTime', 'endTime']) assert.ok(!Number.isNaN(Date.parse(run[k])), `${where}: ${k} ${run[k]}`);
  if ('nodeName' in run) assert.equal(typeof run.nodeName, 'string', `${where}: nodeName`);
  const rest = Object.fromEntries(Object.entries(run).filter(([k]) => !NODE_RUN_EXTRAS.includes(k)));
  check(schemaName, rest, where);
  return run;
}

/** A `{items, cursor?}` page of node runs, each checked with `schemaName`. */
function checkNodeRunPage(schemaName, page, where) {
  assert.ok(page && Array.isArray(page.items), `${where}: ${JSON.stringify(page)}`);
  assert.deepEqual(Object.keys(page).filter((k) => k !== 'items' && k !== 'cursor'), [], `${where}: page keys`);
  page.items.forEach((r, i) => checkNodeRun(schemaName, r, `${where} items[${i}]`));
  return page;
}

/** An API on 127.0.0.1 that answers every request `{slow: true}` after `ms`. */
async function startSlowApi(ms) {
  const srv = http.createServer((req, res) => {
    req.resume();
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ slow: true }));
    }, ms);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${srv.address().port}`,
    close: () => new Promise((r) => {
      srv.closeAllConnections();
      srv.close(r);
    }),
  };
}

describe('flow runs', () => {
  let server;
  let admin;
  let api;
  let apiKey;
  let slow;
  let a;
  let b;
  let conn;
  let bConn;
  let integration;
  let note;
  let instance;
  const noteKey = unique('note');
  const failKey = unique('fail');
  const slowKey = unique('slow');

  useServer((s) => {
    server = s;
    admin = s.admin();
  });

  /** Waits (Osmosis' long poll) for run `id` to end; the run, checked. */
  async function ended(client, id) {
    const run = check('FlowRunApiResponse', await client.get(`/flow-runs/${id}`, { wait: 20 }), 'GET /flow-runs/{id}?wait');
    assert.ok(['completed', 'failed', 'stopped'].includes(run.state), `run ${id} still ${run.state}`);
    return run;
  }

  before(async () => {
    apiKey = `key-${unique('k')}`;
    api = await startMockApi((req, { url, body }) => {
      if (req.headers['x-api-key'] !== apiKey) return [401, { message: 'bad key' }];
      if (url.pathname === '/me') return [200, { id: 'u-1', name: 'Ada' }];
      if (url.pathname.startsWith('/echo')) return [200, { method: req.method, path: url.pathname, body }];
      if (url.pathname === '/teapot') return [418, { message: 'short and stout' }];
      return [404, { message: 'no route' }];
    });
    slow = await startSlowApi(2000);
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
    bConn = await b.connections.create({ integrationId: integration.id, name: 'B CRM', input: { apiKey } });
    const flow = (key, nodes) => admin.flows.create({ key, name: key, integrationId: integration.id, nodes });
    // start → shape → send: the input's text and the connection, echoed by the API.
    note = check(
      'FlowApiResponse',
      await flow(noteKey, {
        start: {
          type: 'api-trigger',
          name: 'Start',
          config: { inputSchema: { type: 'object', properties: { text: { type: 'string' } } } },
          links: [{ key: 'shape' }],
        },
        shape: { type: 'transform-data', config: { output: { text: v('$.input.start.text'), who: v('$.connection.id') } }, links: [{ key: 'send' }] },
        send: { type: 'api-request-to-external-app', config: { request: { method: 'POST', path: '/echo/notes', data: v('$.input.shape') } } },
      }),
      'flows.create',
    );
    // A node whose call fails: the run fails with its error.
    await flow(failKey, {
      start: { type: 'api-trigger', links: [{ key: 'boom' }] },
      boom: { type: 'api-request-to-external-app', config: { request: { method: 'GET', path: '/teapot' } } },
    });
    // A node that takes 2 s: time to stop the run.
    await flow(slowKey, {
      start: { type: 'api-trigger', links: [{ key: 'wait' }] },
      wait: { type: 'custom-http-request', config: { request: { method: 'GET', url: `${slow.base}/slow` } } },
    });
    instance = check(
      'FlowInstanceApiResponse',
      await a.connection(conn.id).flow(noteKey).get({ autoCreate: true }),
      'connection.flow.get({autoCreate})',
    );
  });

  after(async () => {
    await api?.close();
    await slow?.close();
  });

  it('flowInstance(x).run resolves with the completed run', async () => {
    const updates = [];
    const run = await a.flowInstance(instance.id).run({ input: { text: 'hello' }, onUpdate: (r) => updates.push(r) });
    check('FlowRunApiResponse', run, 'flowInstance.run');
    updates.forEach((u, i) => check('FlowRunApiResponse', u, `onUpdate[${i}]`));
    // Queued, or running already when its connection had nothing else to run.
    assert.ok(['queued', 'running'].includes(updates[0].state), `startRun answers ${updates[0].state}`);
    assert.equal(run.state, 'completed');
    assert.equal(run.id, updates[0].id);
    assert.equal(run.connectionFlowId, instance.id);
    assert.equal(run.flowInstanceId, instance.id);
    assert.equal(run.integrationFlowId, note.id);
    assert.equal(run.connectionId, conn.id);
    assert.equal(run.integrationId, integration.id);
    assert.equal(run.startNodeKey, 'start');
    assert.deepEqual(run.input, { text: 'hello' });
    assert.deepEqual(run.launchedBy, { type: 'api-trigger' });
    assert.deepEqual(run.errors, []);
    assert.ok(Date.parse(run.endTime) >= Date.parse(run.startTime), `${run.startTime} … ${run.endTime}`);
    for (const node of ['start', 'shape', 'send']) {
      assert.deepEqual(run.nodes[node], { state: 'completed', runs: 1, erroredRuns: 0, outputs: 1 }, node);
    }
    const output = await a.flowRun(run.id).getOutput();
    assert.deepEqual(output, { method: 'POST', path: '/echo/notes', body: { text: 'hello', who: conn.id } });
  });

  it('flowInstance(x).run rejects with "Flow run <id> failed: <message>" when a node fails', async () => {
    let started;
    const err = await a
      .flowInstance({ flowKey: failKey, connectionId: conn.id, autoCreate: true })
      .run({ onUpdate: (r) => (started ??= r) })
      .then(
        (r) => assert.fail(`expected the run to fail, got ${JSON.stringify(r)}`),
        (e) => e,
      );
    assert.ok(err instanceof Error);
    check('FlowRunApiResponse', started, 'onUpdate');
    const run = check('FlowRunApiResponse', await a.flowRun(started.id).get(), 'flowRun.get');
    assert.equal(run.state, 'failed');
    assert.equal(run.errors.length, 1, JSON.stringify(run.errors));
    assert.ok(run.errors[0].message.length > 0);
    assert.equal(err.message, `Flow run ${run.id} failed: ${run.errors[0].message}`);
    assert.equal(run.nodes.boom.state, 'failed');
    assert.equal(run.nodes.boom.erroredRuns, 1);
    const runs = checkNodeRunPage('FlowNodeRunRecordWithoutOutputsDataSchema', await a.flowRun(run.id).getNodeRuns('boom'), 'getNodeRuns(boom)');
    assert.equal(runs.items.length, 1);
    const boom = checkNodeRun('FlowNodeRunRecordSchema', await a.flowRun(run.id).getNodeRun('boom', runs.items[0].id), 'getNodeRun(boom)');
    assert.equal(boom.status, 'failed');
    assert.deepEqual(boom.outputs, []);
    assert.equal(boom.errors[0].message, run.errors[0].message);
    assert.equal(await a.flowRun(run.id).getOutput(), null, 'a failed run has no output');
  });

  it('startRun and flowRun(id): get, getOutput, getNodeRuns, getNodeRun, getNodeOutputs, getNodeOutput', async () => {
    const started = check(
      'FlowRunApiResponse',
      await a.flowInstance({ flowKey: noteKey, connectionId: conn.id }).startRun({ input: { text: 'again' } }),
      'flowInstance.startRun',
    );
    assert.ok(['queued', 'running'].includes(started.state), started.state);
    assert.equal(started.connectionFlowId, instance.id);
    assert.equal(started.startNodeKey, 'start');
    await ended(a, started.id);
    const flowRun = a.flowRun(started.id);
    const run = check('FlowRunApiResponse', await flowRun.get(), 'flowRun.get');
    assert.equal(run.state, 'completed');
    assert.deepEqual(await flowRun.getOutput(), { method: 'POST', path: '/echo/notes', body: { text: 'again', who: conn.id } });

    // getNodeRuns sends `runs/` (no parameters) or `runs/limit=1` (the SDK's quirk).
    const starts = checkNodeRunPage('FlowNodeRunRecordWithoutOutputsDataSchema', await flowRun.getNodeRuns('start'), 'getNodeRuns(start)');
    assert.equal(starts.items.length, 1);
    assert.equal(starts.items[0].nodeName, 'Start');
    assert.deepEqual(starts.items[0].upstreamRuns, []);
    assert.ok(!('data' in starts.items[0].outputs[0]), 'lists leave the outputs’ data out');
    const sends = checkNodeRunPage('FlowNodeRunRecordWithoutOutputsDataSchema', await flowRun.getNodeRuns('send', { limit: 1 }), 'getNodeRuns(send, {limit})');
    assert.equal(sends.items.length, 1);
    const shapes = checkNodeRunPage('FlowNodeRunRecordWithoutOutputsDataSchema', await flowRun.getNodeRuns('shape', { cursor: '0' }), 'getNodeRuns(shape, {cursor})');
    assert.equal(shapes.items.length, 1);
    // The node run of `send`: from `shape`'s output, with its output's data as JSON text.
    const send = checkNodeRun('FlowNodeRunRecordSchema', await flowRun.getNodeRun('send', sends.items[0].id), 'getNodeRun(send)');
    assert.equal(send.nodeKey, 'send');
    assert.equal(send.status, 'completed');
    assert.deepEqual(send.errors, []);
    assert.deepEqual(send.upstreamRuns, [{ nodeKey: 'shape', runId: shapes.items[0].id, outputId: shapes.items[0].outputs[0].id }]);
    assert.deepEqual(send.input.shape, { text: 'again', who: conn.id });
    assert.equal(send.outputs.length, 1);
    assert.deepEqual(send.outputs[0].downstreamRuns, []);
    assert.deepEqual(JSON.parse(send.outputs[0].data), await flowRun.getOutput());
    assert.equal(send.logs.filter((l) => l.type === 'api-request').length, 1, JSON.stringify(send.logs));
    assert.ok(!JSON.stringify(send).includes(apiKey), 'the credentials never show in node run logs');
    const shape = checkNodeRun('FlowNodeRunRecordSchema', await flowRun.getNodeRun('shape', shapes.items[0].id), 'getNodeRun(shape)');
    assert.deepEqual(shape.outputs[0].downstreamRuns, [{ runId: send.id, nodeKey: 'send' }]);

    const outputs = await flowRun.getNodeOutputs('send');
    assert.deepEqual(Object.keys(outputs).filter((k) => k !== 'items' && k !== 'cursor'), []);
    outputs.items.forEach((o, i) => check('FlowNodeRunOutputWithoutDownstreamRunsSchema', o, `getNodeOutputs items[${i}]`));
    assert.deepEqual(outputs.items, [{ id: send.outputs[0].id, data: send.outputs[0].data }]);
    const one = check('FlowNodeRunOutputWithoutDownstreamRunsSchema', await flowRun.getNodeOutput('send', send.outputs[0].id), 'getNodeOutput');
    assert.deepEqual(one, outputs.items[0]);

    await expectError(flowRun.getNodeRun('send', shapes.items[0].id), 'BadRequestError', 'not_found');
    await expectError(flowRun.getNodeOutput('send', `${send.id}-7`), 'BadRequestError', 'not_found');
    await expectError(a.flowRun('no-such-run').get(), 'BadRequestError', 'not_found');
    // An input the api-trigger's schema refuses starts no run.
    await expectError(a.flowInstance(instance.id).startRun({ input: { text: 5 } }), 'BadRequestError', 'invalid_field');
  });

  it('flowRuns.create, flowRuns.find with filters, and flowRun(id).repeat', async () => {
    const created = check(
      'FlowRunApiResponse',
      await a.flowRuns.create({ flowInstanceId: instance.id, startNodeKey: 'start', input: { text: 'made' }, meta: { origin: 'test' } }),
      'flowRuns.create',
    );
    assert.deepEqual(created.meta, { origin: 'test' });
    const done = await ended(a, created.id);
    assert.equal(done.state, 'completed');
    const repeated = check('FlowRunApiResponse', await a.flowRun(created.id).repeat(), 'flowRun.repeat');
    assert.notEqual(repeated.id, created.id);
    assert.deepEqual([repeated.connectionFlowId, repeated.startNodeKey, repeated.input], [instance.id, 'start', { text: 'made' }]);
    await ended(a, repeated.id);

    const mine = check('FindFlowRunsResponse', await a.flowRuns.find({ connectionFlowId: instance.id }), 'flowRuns.find({connectionFlowId})');
    const ids = mine.items.map((r) => r.id);
    assert.ok(ids.includes(created.id) && ids.includes(repeated.id), JSON.stringify(ids));
    assert.equal(ids[0], repeated.id, 'newest first');
    assert.ok(mine.items.every((r) => r.connectionFlowId === instance.id));
    const failed = check('FindFlowRunsResponse', await a.flowRuns.find({ state: 'failed' }), 'flowRuns.find({state})');
    assert.ok(failed.items.length >= 1);
    assert.ok(failed.items.every((r) => r.state === 'failed'));
    const completed = check('FindFlowRunsResponse', await a.flowRuns.find({ state: 'completed', connectionId: conn.id }), 'flowRuns.find({state, connectionId})');
    assert.ok(completed.items.some((r) => r.id === created.id));
    assert.ok(completed.items.every((r) => r.state === 'completed' && r.connectionId === conn.id));
    const paged = check('FindFlowRunsResponse', await a.flowRuns.find({ connectionFlowId: instance.id, limit: 1 }), 'flowRuns.find({limit})');
    assert.deepEqual(paged.items.map((r) => r.id), [repeated.id]);
    assert.equal(typeof paged.cursor, 'string');
    const next = check('FindFlowRunsResponse', await a.flowRuns.find({ connectionFlowId: instance.id, limit: 1, cursor: paged.cursor }), 'next page');
    assert.equal(next.items.length, 1);
    assert.notEqual(next.items[0].id, repeated.id);

    await expectError(a.flowRuns.find({ state: 'sleeping' }), 'BadRequestError', 'invalid_query');
    await expectError(a.flowRuns.create({ flowInstanceId: 'no-such-instance' }), 'BadRequestError', 'not_found');
    await expectError(a.flowRuns.create({ flowInstanceId: instance.id, startNodeKey: 'send' }), 'BadRequestError', 'invalid_field');
  });

  it("connection(c).flow(f).run starts a run of the connection's instance, made if missing", async () => {
    const started = check('FlowRunApiResponse', await a.connection(conn.id).flow(noteKey).run({ input: { text: 'via connection' } }), 'connection.flow.run');
    assert.equal(started.connectionFlowId, instance.id);
    const run = await ended(a, started.id);
    assert.equal(run.state, 'completed');
    // B has no instance of the flow yet: the run makes it, on B's connection.
    const bStarted = check('FlowRunApiResponse', await b.connection(bConn.id).flow(noteKey).run({ input: { text: 'b' } }), 'connection.flow.run (B)');
    const bInstance = check('FlowInstanceApiResponse', await b.connection(bConn.id).flow(noteKey).get(), 'connection.flow.get (B)');
    assert.equal(bStarted.connectionFlowId, bInstance.id);
    assert.notEqual(bInstance.id, instance.id);
    assert.equal((await ended(b, bStarted.id)).state, 'completed');
    assert.deepEqual(await b.flowRun(bStarted.id).getOutput(), { method: 'POST', path: '/echo/notes', body: { text: 'b', who: bConn.id } });
    await expectError(b.connection(conn.id).flow(noteKey).run({ input: {} }), 'BadRequestError', 'not_found');
  });

  it('flowRun(id).stop ends a run as stopped', async () => {
    const started = await a.connection(conn.id).flow(slowKey).run({});
    assert.equal(await a.flowRun(started.id).stop(), undefined, 'stop() answers nothing');
    const run = await ended(a, started.id);
    assert.equal(run.state, 'stopped');
    assert.ok(run.endTime);
    // Stopping an ended run changes nothing.
    await a.flowRun(started.id).stop();
    assert.deepEqual(check('FlowRunApiResponse', await a.flowRun(started.id).get(), 'get after stop'), run);
    const stopped = check('FindFlowRunsResponse', await a.flowRuns.find({ state: 'stopped' }), 'flowRuns.find({state: stopped})');
    assert.deepEqual(stopped.items.map((r) => r.id), [started.id]);
  });

  it('flowInstance(x) enable/disable/setup/reset/updateToLatestFlow, for its customer only', async () => {
    const key = unique('life');
    await admin.flows.create({
      key, name: 'Life', integrationId: integration.id,
      nodes: { start: { type: 'api-trigger', links: [{ key: 'shape' }] }, shape: { type: 'transform-data', config: { output: { ok: true } } } },
    });
    const mine = a.flowInstance({ flowKey: key, connectionId: conn.id, autoCreate: true });
    const made = check('FlowInstanceApiResponse', await mine.get(), 'flowInstance.get({autoCreate})');
    assert.equal(made.enabled, true);
    const byId = a.flowInstance(made.id);
    assert.equal(check('FlowInstanceApiResponse', await byId.disable(), 'flowInstance.disable').enabled, false);
    await expectError(byId.startRun({ input: {} }), 'BadRequestError', 'invalid_field');
    assert.equal(check('FlowInstanceApiResponse', await byId.enable(), 'flowInstance.enable').enabled, true);
    check('FlowInstanceApiResponse', await byId.setup(), 'flowInstance.setup');
    // A rename customises the name; a selective reset takes the flow's back.
    const renamed = check('FlowInstanceApiResponse', await byId.patch({ name: 'Mine' }), 'flowInstance.patch');
    assert.equal(renamed.customized?.name, true);
    const reset = check('FlowInstanceApiResponse', await byId.reset({ name: true }), 'flowInstance.reset');
    assert.equal(reset.name, 'Life');
    // The flow changes; the instance takes it on update-to-latest.
    await admin.flow(key).patch({ nodes: { start: { type: 'api-trigger', links: [{ key: 'shape' }] }, shape: { type: 'transform-data', config: { output: { ok: 2 } } } } });
    const latest = check('FlowInstanceApiResponse', await byId.updateToLatestFlow(), 'flowInstance.updateToLatestFlow');
    assert.deepEqual(latest.nodes.shape.config, { output: { ok: 2 } });
    const run = await ended(a, (await byId.startRun({ input: {} })).id);
    assert.equal(run.state, 'completed');
    assert.deepEqual(await a.flowRun(run.id).getOutput(), { ok: 2 });
    // Another customer reaches none of it.
    const theirs = b.flowInstance(made.id);
    for (const [what, call] of [
      ['disable', () => theirs.disable()],
      ['setup', () => theirs.setup()],
      ['reset', () => theirs.reset({ name: true })],
      ['updateToLatestFlow', () => theirs.updateToLatestFlow()],
    ]) {
      await expectError(call(), 'BadRequestError', 'not_found', what);
    }
  });

  it("a customer can neither read nor start another customer's runs", async () => {
    const theirs = (await a.flowRuns.find({ connectionFlowId: instance.id, state: 'completed' })).items[0];
    const sends = await a.flowRun(theirs.id).getNodeRuns('send');
    const send = await a.flowRun(theirs.id).getNodeRun('send', sends.items[0].id);
    const other = b.flowRun(theirs.id);
    await expectError(other.get(), 'BadRequestError', 'not_found');
    await expectError(b.get(`/flow-runs/${theirs.id}`, { wait: 1 }), 'BadRequestError', 'not_found');
    await expectError(other.getOutput(), 'BadRequestError', 'not_found');
    await expectError(other.getNodeRuns('send'), 'BadRequestError', 'not_found');
    await expectError(other.getNodeRun('send', send.id), 'BadRequestError', 'not_found');
    await expectError(other.getNodeOutputs('send'), 'BadRequestError', 'not_found');
    await expectError(other.getNodeOutput('send', send.outputs[0].id), 'BadRequestError', 'not_found');
    await expectError(other.stop(), 'BadRequestError', 'not_found');
    await expectError(other.repeat(), 'BadRequestError', 'not_found');
    await expectError(b.flowRuns.create({ flowInstanceId: instance.id }), 'BadRequestError', 'not_found');
    await expectError(b.flowInstance(instance.id).startRun({ input: { text: 'x' } }), 'BadRequestError', 'not_found');
    // B's lists hold B's runs only, whatever the filter names.
    const bRuns = check('FindFlowRunsResponse', await b.flowRuns.find(), 'flowRuns.find (B)');
    assert.ok(bRuns.items.length >= 1);
    assert.ok(bRuns.items.every((r) => r.connectionId === bConn.id));
    assert.deepEqual((await b.flowRuns.find({ connectionId: conn.id })).items, []);
    assert.deepEqual((await b.flowRuns.find({ connectionFlowId: instance.id })).items, []);
    // The admin sees both customers' runs.
    const all = check('FindFlowRunsResponse', await admin.flowRuns.find({ integrationId: integration.id, limit: 100 }), 'flowRuns.find (admin)');
    const connections = new Set(all.items.map((r) => r.connectionId));
    assert.ok(connections.has(conn.id) && connections.has(bConn.id), JSON.stringify([...connections]));
    check('FlowRunApiResponse', await admin.flowRun(theirs.id).get(), 'flowRun.get (admin)');
  });
});
