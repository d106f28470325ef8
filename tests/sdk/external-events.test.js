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
    const connector = await admin.post('/connectors', {
      key: unique('crm'),
      name: 'CRM',
      type: 'client-credentials',
      makeApiClient: { type: 'mapping', mapping: { baseUri: api.base, headers: { 'x-api-key': { $var: '$.credentials.apiKey' } } } },
      test: { type: 'rest-api-mapping', mapping: { path: '/me', method: 'GET' } },
      data: {
        contacts: {
          name: 'Contacts',
          list: { type: 'rest-api-mapping', mapping: { path: '/contacts', method: 'GET', responseMapping: { records: { $var: '$.response.data.items' } } } },
          recordFromApi: { type: 'mapping', mapping: { id: { $var: '$.id' }, name: { $var: '$.name' }, fields: { name: { $var: '$.name' } } } },
        },
      },
    });
    const integration = await admin.integrations.create({ key: unique('crm'), name: 'CRM', connectorId: connector.id });
    a = server.customer(unique('tenant-a'));
    b = server.customer(unique('tenant-b'));
    conn = await a.connections.create({ integrationId: integration.id, name: 'A CRM', input: { apiKey } });
    const key = unique('on-contact');
    await admin.flows.create({
      key,
      name: 'On contact',
      integrationId: integration.id,
      nodes: {
        created: {
          type: 'data-record-created-trigger',
          config: { dataSource: { collectionKey: 'contacts' }, fieldMapping: { importValue: { fullName: { $var: '$.name' } } } },
          links: [{ key: 'out' }],
        },
        out: { type: 'transform-data', config: { output: { id: { $var: '$.input.created.record.id' } } } },
      },
    });
    instance = await a.connection(conn.id).flow(key).get({ autoCreate: true });
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
