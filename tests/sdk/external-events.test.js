'use strict';
// External event subscriptions with the SDK's own accessors:
// client.externalEventSubscriptions().find(q) (a method call, not a getter) and
// externalEventSubscription(id).get/setup/subscribe/unsubscribe/resubscribe/
// refreshWebhook/pullEvents, on the subscription an enabled flow instance with a
// data-record-created-trigger makes. The collection has no events of its own, so
// it is scanned whole: the first pull takes the baseline, the next finds the new
// record and starts a run. Responses are parsed with the SDK's zod schemas
// (ExternalEventSubscriptionApiResponse, ExternalEventLogRecordApiResponse,
// ExternalEventPullApiResponse); another customer reaches none of it.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, check, checkPage, expectError, startMockApi, unique, sleep } = require('./harness');

/**
 * A client-credentials connector named `name` over the mock at `base` with
 * collections `data`, its integration, customers A (connected with `apiKey`)
 * and B, and A's enabled instance of a flow whose data-record-created-trigger
 * watches `collectionKey` (import mapping `importValue`).
 */
async function connectWithFlow(server, admin, { name, base, apiKey, data, collectionKey, importValue }) {
  const connector = await admin.post('/connectors', {
    key: unique(name.toLowerCase()),
    name,
    type: 'client-credentials',
    makeApiClient: { type: 'mapping', mapping: { baseUri: base, headers: { 'x-api-key': { $var: '$.credentials.apiKey' } } } },
    test: { type: 'rest-api-mapping', mapping: { path: '/me', method: 'GET' } },
    data,
  });
  const integration = await admin.integrations.create({ key: unique(name.toLowerCase()), name, connectorId: connector.id });
  const a = server.customer(unique('tenant-a'));
  const b = server.customer(unique('tenant-b'));
  const conn = await a.connections.create({ integrationId: integration.id, name: `A ${name}`, input: { apiKey } });
  const key = unique('on-record');
  await admin.flows.create({
    key,
    name: 'On record',
    integrationId: integration.id,
    nodes: {
      created: { type: 'data-record-created-trigger', config: { dataSource: { collectionKey }, fieldMapping: { importValue } }, links: [{ key: 'out' }] },
      out: { type: 'transform-data', config: { output: { id: { $var: '$.input.created.record.id' } } } },
    },
  });
  const instance = await a.connection(conn.id).flow(key).get({ autoCreate: true });
  return { a, b, conn, instance };
}

describe('external event subscriptions', () => {
  let server;
  let admin;
  let api;
  let a;
  let b;
  let conn;
  let instance;
  const contacts = [
    { id: '1', name: 'Ada' },
    { id: '2', name: 'Grace' },
  ];

  useServer((s) => {
    server = s;
    admin = s.admin();
  });

  before(async () => {
    const apiKey = `key-${unique('k')}`;
    api = await startMockApi((req, { url }) => {
      if (req.headers['x-api-key'] !== apiKey) return [401, { message: 'bad key' }];
      if (url.pathname === '/me') return [200, { id: 'u-1' }];
      if (url.pathname === '/contacts') return [200, { items: contacts }];
      return [404, { message: 'no route' }];
    });
    ({ a, b, conn, instance } = await connectWithFlow(server, admin, {
      name: 'CRM',
      base: api.base,
      apiKey,
      data: {
        contacts: {
          name: 'Contacts',
          list: { type: 'rest-api-mapping', mapping: { path: '/contacts', method: 'GET', responseMapping: { records: { $var: '$.response.data.items' } } } },
          recordFromApi: { type: 'mapping', mapping: { id: { $var: '$.id' }, name: { $var: '$.name' }, fields: { name: { $var: '$.name' } } } },
        },
      },
      collectionKey: 'contacts',
      importValue: { fullName: { $var: '$.name' } },
    }));
  });

  after(() => api?.close());

  /**
   * `pullEvents()`, again while the server's own pull job holds the connection
   * (`rate_limit_exceeded`: one full scan of a connection at a time).
   */
  const pullNow = async (subscription) => {
    for (let i = 0; ; i += 1) {
      try {
        return await subscription.pullEvents();
      } catch (e) {
        if (e?.data?.key !== 'rate_limit_exceeded' || i === 50) throw e;
        await sleep(100);
      }
    }
  };

  /** Alice's one subscription, through the list. */
  const mine = async () => {
    const page = checkPage('ExternalEventSubscriptionApiResponse', await a.externalEventSubscriptions().find({ connectionId: conn.id }), 'externalEventSubscriptions().find');
    assert.equal(page.items.length, 1, JSON.stringify(page));
    return page.items[0];
  };

  it('an enabled instance has its subscription, polled by a full scan', async () => {
    const sub = await mine();
    assert.equal(sub.status, 'subscribed');
    assert.equal(sub.connectionId, conn.id);
    assert.equal(sub.config.type, 'data-record-created');
    assert.equal(sub.config.dataSource.collectionKey, 'contacts');
    assert.equal(sub.isRealTime, false);
    assert.equal(sub.requiresPull, true);
    assert.equal(sub.requiresFullSync, true);
    assert.equal(typeof sub.nextPullEventsTimestamp, 'number');
    const one = check('ExternalEventSubscriptionApiResponse', await a.externalEventSubscription(sub.id).get(), 'externalEventSubscription.get');
    assert.equal(one.id, sub.id);
    // Filters: status, and the admin naming the customer.
    assert.equal((await a.externalEventSubscriptions().find({ status: 'error' })).items.length, 0);
    const byTenant = await admin.externalEventSubscriptions().find({ tenantId: sub.userId });
    assert.deepEqual(byTenant.items.map((s) => s.id), [sub.id]);
  });

  it('pullEvents takes the baseline, then finds a new record and starts a run', async () => {
    const sub = await mine();
    const subscription = a.externalEventSubscription(sub.id);
    await pullNow(subscription);
    const baseline = check('ExternalEventSubscriptionApiResponse', await subscription.get(), 'after the baseline');
    assert.equal(baseline.stateData.records, 2);
    contacts.push({ id: '3', name: 'Radia' });
    await pullNow(subscription);

    const events = checkPage('ExternalEventLogRecordApiResponse', await a.get('/external-event-log-records', { externalEventSubscriptionId: sub.id }), 'external-event-log-records');
    assert.equal(events.items.length, 1, JSON.stringify(events));
    const event = events.items[0];
    assert.equal(event.payload.type, 'created');
    assert.equal(event.payload.record.id, '3');
    assert.equal(event.status, 'success');
    assert.equal(event.launchedFlowRunIds.length, 1);
    const run = check('FlowRunApiResponse', await a.flowRun(event.launchedFlowRunIds[0]).get(), 'flowRun.get');
    assert.deepEqual(run.launchedBy, { type: 'external-event', ids: [event.id] });
    assert.equal(run.connectionFlowId, instance.id);

    // The server's own pull job may have taken the baseline first: one pull found
    // the event, the others nothing.
    const pulls = checkPage('ExternalEventPullApiResponse', await a.get('/external-event-pulls', { externalEventSubscriptionId: sub.id }), 'external-event-pulls');
    assert.ok(pulls.items.every((p) => p.status === 'success' && p.isFullScan), JSON.stringify(pulls));
    assert.deepEqual(pulls.items.flatMap((p) => p.collectedEventIds), [event.id]);
  });

  it('unsubscribe, subscribe, resubscribe, refreshWebhook and setup', async () => {
    const sub = await mine();
    const subscription = a.externalEventSubscription(sub.id);
    await subscription.unsubscribe();
    assert.equal((await subscription.get()).status, 'unsubscribed');
    await expectError(subscription.pullEvents(), 'BadRequestError', 'invalid_field');
    await subscription.subscribe();
    assert.equal((await subscription.get()).status, 'subscribed');
    await subscription.refreshWebhook();
    const kept = (await subscription.get()).stateData;
    assert.ok(kept, 'unsubscribing keeps what the pulls kept');
    await subscription.resubscribe();
    // A new baseline: none yet, or one the server's pull job has just taken.
    const fresh = check('ExternalEventSubscriptionApiResponse', await subscription.get(), 'after resubscribe');
    assert.notDeepEqual(fresh.stateData, kept);
    await subscription.setup();
    assert.equal((await subscription.get()).status, 'subscribed');
  });

  it("another customer reaches none of it", async () => {
    const sub = await mine();
    const theirs = b.externalEventSubscription(sub.id);
    await expectError(theirs.get(), 'BadRequestError', 'not_found');
    await expectError(theirs.pullEvents(), 'BadRequestError', 'not_found');
    await expectError(theirs.unsubscribe(), 'BadRequestError', 'not_found');
    assert.deepEqual((await b.externalEventSubscriptions().find()).items, []);
    assert.deepEqual((await b.get('/external-event-log-records')).items, []);
    assert.deepEqual((await b.get('/external-event-pulls')).items, []);
    await expectError(a.externalEventSubscriptions().find({ limit: 5000 }), 'BadRequestError', 'invalid_query');
  });
});

// A subscription served by a connector webhook: the server's webhook job
// registers it at the mock app through the connector's `subscribe`, the app's
// deliveries to its `webhookUri` become events and runs through `handle`, and
// unsubscribe/subscribe/resubscribe/refreshWebhook drive the registration —
// exactly one live at the app whenever the subscription is subscribed.
describe('external event subscriptions served by a webhook', () => {
  let server;
  let admin;
  let api;
  let a;
  let b;
  let conn;
  let instance;
  const live = new Map();
  let made = 0;
  let renewed = 0;

  useServer((s) => {
    server = s;
    admin = s.admin();
  });

  /** Polls `probe` until it answers truthy (10 s at most). */
  const waitFor = async (what, probe) => {
    for (let i = 0; i < 100; i += 1) {
      const got = await probe();
      if (got) return got;
      await sleep(100);
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  before(async () => {
    const apiKey = `key-${unique('k')}`;
    api = await startMockApi((req, { url, body }) => {
      if (req.headers['x-api-key'] !== apiKey) return [401, { message: 'bad key' }];
      if (url.pathname === '/me') return [200, { id: 'u-1' }];
      if (url.pathname === '/webhooks' && req.method === 'POST') {
        made += 1;
        const id = `hook-${made}`;
        live.set(id, body.url);
        return [201, { id }];
      }
      const hook = url.pathname.match(/^\/webhooks\/([^/]+)(\/renew)?$/);
      if (hook && live.has(hook[1])) {
        if (hook[2]) renewed += 1;
        else live.delete(hook[1]);
        return [200, {}];
      }
      return [404, { message: 'no route' }];
    });
    const code = (c) => ({ type: 'javascript', code: c });
    ({ a, b, conn, instance } = await connectWithFlow(server, admin, {
      name: 'Hooks',
      base: api.base,
      apiKey,
      data: {
        tickets: {
          name: 'Tickets',
          recordFromApi: { type: 'mapping', mapping: { id: { $var: '$.id' }, name: { $var: '$.subject' }, fields: { subject: { $var: '$.subject' } } } },
          events: {
            created: {
              type: 'webhook',
              subscribe: code("export default async ({input, apiClient}) => { const r = await apiClient.post('/webhooks', {url: input.webhookUri}); return {state: {hookId: r.id}}; }"),
              handle: code("export default async ({input}) => ({events: (input.data.tickets || []).map((t) => ({type: 'created', record: t, id: t.eventId}))})"),
              unsubscribe: code("export default async ({input, apiClient}) => { await apiClient.delete('/webhooks/' + input.state.hookId); }"),
              refresh: code("export default async ({input, apiClient}) => { await apiClient.post('/webhooks/' + input.state.hookId + '/renew', {}); return {state: input.state}; }"),
            },
          },
        },
      },
      collectionKey: 'tickets',
      importValue: { title: { $var: '$.subject' } },
    }));
  });

  after(() => api?.close());

  const mine = async () => {
    const page = checkPage('ExternalEventSubscriptionApiResponse', await a.externalEventSubscriptions().find({ connectionId: conn.id }), 'externalEventSubscriptions().find');
    assert.equal(page.items.length, 1, JSON.stringify(page));
    return page.items[0];
  };

  /** The subscription once its job has registered a webhook (or removed it). */
  const registered = (subscription, yes) =>
    waitFor(yes ? 'a registration' : 'no registration', async () => {
      const sub = check('ExternalEventSubscriptionApiResponse', await subscription.get(), 'externalEventSubscription.get');
      return (yes ? sub.status === 'subscribed' && sub.stateData?.hookId : !sub.stateData) && live.size === (yes ? 1 : 0) ? sub : null;
    });

  it('is real-time, registers one webhook and turns deliveries into runs', async () => {
    const sub = await mine();
    assert.equal(sub.isRealTime, true);
    assert.equal(sub.requiresPull, false);
    assert.match(sub.webhookUri, /\/webhooks\/external-events\/[^/]+\/[0-9a-f]{32}$/);
    const ready = await registered(a.externalEventSubscription(sub.id), true);
    assert.equal([...live.values()][0], sub.webhookUri);
    assert.equal(ready.stateData.hookId, 'hook-1');

    const delivery = { tickets: [{ id: 't-1', subject: 'Printer on fire', eventId: 'e-1' }] };
    for (let i = 0; i < 2; i += 1) {
      const res = await fetch(sub.webhookUri, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(delivery) });
      assert.equal(res.status, 200);
      assert.ok((await res.json()).incomingWebhookId);
    }
    const event = await waitFor('the event and its run', async () => {
      const page = await a.get('/external-event-log-records', { externalEventSubscriptionId: sub.id });
      return page.items.find((e) => e.status === 'success');
    });
    check('ExternalEventLogRecordApiResponse', event, 'external-event-log-records');
    assert.equal(event.payload.record.id, 't-1');
    const run = check('FlowRunApiResponse', await a.flowRun(event.launchedFlowRunIds[0]).get(), 'flowRun.get');
    assert.equal(run.connectionFlowId, instance.id);
    // The repeat (same event id) made no second event.
    await waitFor('both deliveries processed', async () => {
      const page = await a.get('/incoming-webhooks', { subscriptionId: sub.id });
      return page.items.length === 2 && page.items.every((d) => d.status === 'success') ? page : null;
    });
    assert.equal((await a.get('/external-event-log-records', { externalEventSubscriptionId: sub.id })).items.length, 1);
  });

  it('unsubscribe, subscribe, resubscribe and refreshWebhook drive the one registration', async () => {
    const sub = await mine();
    const subscription = a.externalEventSubscription(sub.id);
    await subscription.unsubscribe();
    assert.equal((await registered(subscription, false)).status, 'unsubscribed');
    await subscription.subscribe();
    const first = (await registered(subscription, true)).stateData.hookId;
    await subscription.resubscribe();
    const second = await waitFor('a new registration', async () => {
      const now = (await subscription.get()).stateData?.hookId;
      return now && now !== first && live.size === 1 ? now : null;
    });
    assert.ok(live.has(second) && !live.has(first));
    await subscription.refreshWebhook();
    await waitFor('a renewal', async () => renewed === 1);
    await subscription.pullEvents();
    assert.equal(live.size, 1);
  });

  it('another customer reaches none of it', async () => {
    const sub = await mine();
    const theirs = b.externalEventSubscription(sub.id);
    await expectError(theirs.get(), 'BadRequestError', 'not_found');
    await expectError(theirs.subscribe(), 'BadRequestError', 'not_found');
    await expectError(theirs.unsubscribe(), 'BadRequestError', 'not_found');
    await expectError(theirs.resubscribe(), 'BadRequestError', 'not_found');
    await expectError(theirs.refreshWebhook(), 'BadRequestError', 'not_found');
    assert.deepEqual((await b.get('/incoming-webhooks')).items, []);
  });
});
