'use strict';
// App events with the SDK's own accessors: app event types (appEventTypes.create/find,
// appEventType(x).get), a customer's subscription (appEventSubscription(x).get with
// autoCreate, .subscribe(), which sends the type's subscribeRequest to "your app"),
// events posted to the subscription's webhookUri, and the logs (GET /app-events,
// GET /incoming-webhooks). Responses parsed with the SDK's zod schemas; another
// customer reaches none of it.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, check, checkPage, expectError, startMockApi, unique } = require('./harness');

/** Polls `fn` until it answers something truthy (deliveries are processed after they are answered). */
async function eventually(fn, what) {
  for (let i = 0; i < 100; i += 1) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('app events', () => {
  let server;
  let admin;
  let app;
  let a;
  let b;
  const subscribed = [];
  const typeKey = unique('order-created');

  useServer((s) => {
    server = s;
    admin = s.admin();
  });

  before(async () => {
    app = await startMockApi((req, { url, body }) => {
      if (url.pathname !== '/subscribe') return [404, { message: 'no' }];
      subscribed.push({ body, signed: (req.headers.authorization || '').startsWith('Bearer ') });
      return [200, { subscriptionId: `sub-${subscribed.length}` }];
    });
    a = server.customer(unique('tenant-a'));
    b = server.customer(unique('tenant-b'));
  });

  after(() => app?.close());

  it('appEventTypes create and find; a type has its global webhook URI', async () => {
    const created = check('AppEventTypeApiResponse', await admin.appEventTypes.create({
      key: typeKey,
      name: 'Order created',
      subscribeRequest: { method: 'POST', uri: `${app.base}/subscribe`, body: { url: '{{webhookUri}}' } },
    }), 'appEventTypes.create');
    assert.match(created.globalWebhookUri, new RegExp(`^${server.apiUri}/webhooks/app-events/`));
    assert.equal(typeof created.webhookKey, 'string');
    const page = checkPage('AppEventTypeApiResponse', await admin.appEventTypes.find({}), 'appEventTypes.find');
    assert.ok(page.items.some((t) => t.id === created.id));
    check('AppEventTypeApiResponse', await a.appEventType(typeKey).get(), 'a customer reads the type');
  });

  it("appEventSubscription(x).subscribe() calls your app with the subscription's webhookUri; events posted there are the customer's", async () => {
    const sub = check('AppEventSubscriptionApiResponse', await a.appEventSubscription({ appEventTypeKey: typeKey, autoCreate: true }).get(), 'get with autoCreate');
    assert.equal(sub.isSubscribed, false);
    await a.appEventSubscription({ appEventTypeKey: typeKey }).subscribe();
    const after = check('AppEventSubscriptionApiResponse', await a.appEventSubscription(sub.id).get(), 'after subscribe');
    assert.equal(after.isSubscribed, true);
    assert.deepEqual(subscribed, [{ body: { url: sub.webhookUri }, signed: true }]);
    assert.deepEqual(after.subscriptionResponse, { subscriptionId: 'sub-1' });
    checkPage('AppEventSubscriptionApiResponse', await a.appEventSubscriptions.find({}), 'appEventSubscriptions.find');

    // Bob can neither read nor subscribe Alice's subscription.
    await expectError(b.appEventSubscription(sub.id).get(), 'BadRequestError', 'not_found');
    await expectError(b.appEventSubscription(sub.id).subscribe(), 'BadRequestError', 'not_found');

    // Your app posts an event (any method) to the subscription's URL.
    const res = await fetch(sub.webhookUri, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'k-123' }, body: JSON.stringify({ orderId: 'o-1', amount: 12 }) });
    assert.equal(res.status, 200);
    const { incomingWebhookId } = await res.json();
    const events = await eventually(async () => {
      const page = await a.get('/app-events');
      return page.items.length ? page : null;
    }, 'the app event');
    checkPage('AppEventLogRecordApiResponse', events, 'GET /app-events');
    assert.equal(events.items[0].appEventSubscriptionId, sub.id);
    assert.deepEqual(events.items[0].event, { orderId: 'o-1', amount: 12 });
    check('AppEventLogRecordApiResponse', await a.get(`/app-events/${events.items[0].id}`), 'GET /app-events/{id}');
    assert.deepEqual((await b.get('/app-events')).items, [], "bob sees none of alice's events");

    const hooks = checkPage('IncomingWebhookApiResponse', await admin.get('/incoming-webhooks'), 'GET /incoming-webhooks');
    assert.ok(hooks.items.some((w) => w.id === incomingWebhookId && w.status === 'success'));
    const detail = check('IncomingWebhookDetail', await admin.get(`/incoming-webhooks/${incomingWebhookId}`), 'GET /incoming-webhooks/{id}');
    assert.equal(detail.request.headers['x-api-key'], '***', 'secrets masked');
    assert.deepEqual(detail.collectedEventIds, [events.items[0].id]);
    await expectError(b.get(`/incoming-webhooks/${incomingWebhookId}`), 'BadRequestError', 'not_found');
  });
});
