// Registers a webhook endpoint for customer changes (`subscribe`, semantics §2.4
// `webhook`): `POST /v1/webhook_endpoints`, form-encoded like the rest of this
// connector, with `url` and `enabled_events[]` = customer.created, customer.updated and
// customer.deleted (https://docs.stripe.com/api/webhook_endpoints/create). Stripe makes
// the endpoint's signing secret (`whsec_…`) and returns it only in this answer; it is
// kept in the subscription's state (`webhookSecret`) for `handle`, with the endpoint
// id for `unsubscribe`. The three files `events-all-webhook-*.js` serve created,
// updated and deleted customers alike (`events.all`; `subscribe` is not told which
// type it serves, so it asks for all three); each subscription of the connection
// registers its own endpoint. Stripe's endpoints do not expire: there is no `refresh`.
const EVENTS = ['customer.created', 'customer.updated', 'customer.deleted']

export default async function ({ apiClient, input }) {
  if (!input.webhookUri) throw new Error('No webhookUri to register')
  const endpoint = await apiClient.post(
    '/webhook_endpoints',
    { url: input.webhookUri, 'enabled_events[]': EVENTS, description: 'Osmosis: customers changes' },
    { headers: { 'Content-Type': 'application/x-www-form-urlencoded' } },
  )
  if (!endpoint || !endpoint.id || typeof endpoint.secret !== 'string' || endpoint.secret === '') {
    throw new Error('Stripe answered the webhook endpoint registration without an id or a signing secret')
  }
  return { state: { endpointId: endpoint.id, webhookSecret: endpoint.secret } }
}
