'use strict';
// Integrations and connectors through the SDK: the seed pages (create, get, update),
// the rest of the accessor (put, archive, restore, setup) and the connector views
// an integration serves (connector spec, operations, data collections).

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, check, checkPage, expectError, unique } = require('./harness');

const CONNECTOR_BODY = (key) => ({
  key,
  name: `Connector ${key}`,
  logoUri: 'https://example.com/logo.png',
  baseUri: 'https://api.example.com',
  auth: { type: 'oauth2' },
  parametersSchema: { type: 'object', properties: { clientId: { type: 'string' } }, required: ['clientId'] },
  data: {
    contacts: { name: 'Contacts', fieldsSchema: { type: 'object', properties: { email: { type: 'string' } } } },
    deals: { name: 'Deals', isHidden: true },
  },
  operations: [
    { key: 'get-user', name: 'Get user', description: 'The current user', inputSchema: { type: 'object' } },
    { key: 'list-things', name: 'List things', tags: ['things'], isReadOnly: true },
  ],
});

describe('integrations and connectors', () => {
  let server;
  let admin;
  let connector;

  useServer((s) => {
    server = s;
    admin = s.admin();
  });
  before(async () => {
    connector = await admin.post('/connectors', CONNECTOR_BODY(unique('conn')));
  });

  it('creates connectors through the raw client and serves them as Connector', async () => {
    const key = unique('conn');
    const connector = check('Connector', await admin.post('/connectors', CONNECTOR_BODY(key)), 'POST /connectors');
    assert.equal(connector.key, key);
    assert.equal(connector.name, `Connector ${key}`);
    assert.equal(connector.baseUri, 'https://api.example.com');
    assert.equal(connector.operationsCount, 2);
    assert.equal(connector.dataCollectionsCount, 2);
    assert.equal(connector.hasOperations, true);
    assert.equal(connector.type, 'oauth2');

    const byId = check('Connector', await admin.get(`/connectors/${connector.id}`), 'GET /connectors/{id}');
    assert.equal(byId.id, connector.id);
    const byKey = check('Connector', await admin.get(`/connectors/${key}`), 'GET /connectors/{key}');
    assert.equal(byKey.id, connector.id);
    const page = checkPage('Connector', await admin.get('/connectors'), 'GET /connectors');
    assert.ok(page.items.some((c) => c.id === connector.id));

    const patched = check('Connector', await admin.patch(`/connectors/${key}`, { name: 'Renamed connector' }), 'PATCH /connectors');
    assert.equal(patched.name, 'Renamed connector');
    assert.equal(patched.operationsCount, 2, 'a PATCH keeps fields it does not name');
    await expectError(admin.post('/connectors', CONNECTOR_BODY(key)), 'BadRequestError', 'already_exists');
    await expectError(admin.get('/connectors/no-such-connector'), 'BadRequestError', 'not_found');
  });

  it('a customer token cannot create connectors but can read them', async () => {
    const customer = server.customer(unique('tenant'));
    await expectError(customer.post('/connectors', CONNECTOR_BODY(unique('conn'))), 'BadRequestError', 'access_denied');
    const seen = check('Connector', await customer.get(`/connectors/${connector.id}`));
    assert.equal(seen.id, connector.id);
  });

  it('integrations.create / integration(sel).get with a connector (seed: create, get)', async () => {
    const key = unique('hub');
    const created = check(
      'IntegrationApiResponse',
      await admin.integrations.create({ key, name: 'HubSpot', description: 'CRM', meta: { team: 'a' }, connectorId: connector.id, parameters: { clientId: 'cid' } }),
      'integrations.create',
    );
    assert.equal(created.key, key);
    assert.equal(created.name, 'HubSpot');
    assert.equal(created.description, 'CRM');
    assert.deepEqual(created.meta, { team: 'a' });
    assert.equal(created.connectorId, connector.id);
    assert.equal(typeof created.logoUri, 'string');
    assert.equal(created.logoUri, 'https://example.com/logo.png', 'the logo comes from the connector');
    assert.equal(created.hasMissingParameters, false);
    assert.equal(created.operationsCount, 2);
    assert.equal(created.dataCollectionsCount, 2);
    assert.ok(created.revision);
    assert.equal(created.archivedAt, undefined);

    const byKey = check('IntegrationApiResponse', await admin.integration(key).get(), 'integration(key).get');
    const byId = check('IntegrationApiResponse', await admin.integration(created.id).get(), 'integration(id).get');
    assert.equal(byKey.id, created.id);
    assert.equal(byId.key, key);
    assert.equal(byKey.revision, created.revision);

    // connectorKey works as well, and a missing required parameter shows.
    const viaKey = check('IntegrationApiResponse', await admin.integrations.create({ key: unique('hub'), name: 'Other', connectorKey: connector.key }));
    assert.equal(viaKey.connectorId, connector.id);
    assert.equal(viaKey.hasMissingParameters, true);
  });

  it('patch / put change an integration, visible through a follow-up GET (seed: update)', async () => {
    const key = unique('int');
    const created = await admin.integrations.create({ key, name: 'Before', description: 'desc', meta: { m: 1 } });
    const patched = check('IntegrationApiResponse', await admin.integration(key).patch({ name: 'After' }), 'integration.patch');
    assert.equal(patched.name, 'After');
    assert.equal(patched.description, 'desc', 'PATCH keeps what it does not name');
    assert.notEqual(patched.revision, created.revision, 'a write changes the revision');
    const got = check('IntegrationApiResponse', await admin.integration(key).get());
    assert.equal(got.name, 'After');
    assert.equal(got.revision, patched.revision);

    const put = check('IntegrationApiResponse', await admin.integration(key).put({ name: 'Replaced', key }), 'integration.put');
    assert.equal(put.name, 'Replaced');
    assert.equal(put.description, undefined, 'PUT removes what it does not name');
    assert.equal(put.meta, undefined);
    const after = await admin.integration(created.id).get();
    assert.equal(after.name, 'Replaced');
    assert.equal(after.description, undefined);
  });

  it('find / findAll list integrations, archive hides them, restore brings them back', async () => {
    const key = unique('arch');
    const created = await admin.integrations.create({ key, name: 'Archivable Zebra' });
    const listed = checkPage('IntegrationListItem', await admin.integrations.find(), 'integrations.find');
    assert.ok(listed.items.some((i) => i.id === created.id));
    const searched = checkPage('IntegrationListItem', await admin.integrations.find({ search: 'Zebra' }));
    assert.deepEqual(searched.items.map((i) => i.id), [created.id]);
    const all = await admin.integrations.findAll();
    all.forEach((i) => check('IntegrationListItem', i));
    assert.ok(all.some((i) => i.id === created.id));

    assert.equal(await admin.integration(key).archive(), undefined);
    const archived = check('IntegrationApiResponse', await admin.integration(key).get());
    assert.equal(typeof archived.archivedAt, 'string');
    assert.ok(!Number.isNaN(Date.parse(archived.archivedAt)));
    assert.equal((await admin.integrations.find()).items.some((i) => i.id === created.id), false, 'archived is hidden from find()');
    assert.equal((await admin.integrations.findAll()).some((i) => i.id === created.id), false, 'archived is hidden from findAll()');
    const withArchived = await admin.integrations.find({ includeArchived: true });
    assert.ok(withArchived.items.some((i) => i.id === created.id && i.archivedAt));
    await expectError(admin.integration(key).patch({ name: 'nope' }), 'BadRequestError', 'not_editable');
    assert.equal((await admin.integration(key).get()).name, 'Archivable Zebra', 'a refused PATCH changes nothing');

    const restored = check('IntegrationApiResponse', await admin.integration(key).restore(), 'integration.restore');
    assert.equal(restored.archivedAt, undefined);
    assert.equal((await admin.integration(key).get()).archivedAt, undefined);
    assert.ok((await admin.integrations.find()).items.some((i) => i.id === created.id));
  });

  it('setup answers the integration', async () => {
    const key = unique('setup');
    await admin.integrations.create({ key, name: 'Setup me', connectorId: connector.id });
    const set = check('IntegrationApiResponse', await admin.integration(key).setup(), 'integration.setup');
    assert.equal(set.key, key);
    assert.equal(set.state, 'READY');
  });

  it('getConnectorSpec / getOperations / getOperation / getDataCollections / getDataCollection', async () => {
    const key = unique('spec');
    await admin.integrations.create({ key, name: 'With connector', connectorId: connector.id });
    const spec = check('ConnectorSpec', await admin.integration(key).getConnectorSpec(), 'getConnectorSpec');
    assert.equal(spec.key, connector.key);
    assert.deepEqual(spec.parametersSchema, CONNECTOR_BODY('x').parametersSchema);

    const ops = await admin.integration(key).getOperations();
    assert.ok(Array.isArray(ops));
    assert.deepEqual(
      ops.map((o) => o.key),
      ['get-user', 'list-things'],
    );
    const listThings = ops.find((o) => o.key === 'list-things');
    assert.equal(listThings.name, 'List things');
    assert.deepEqual(listThings.tags, ['things']);
    assert.equal(listThings.isReadOnly, true);
    ops.forEach((o, i) => check('OperationListItem', o, `getOperations[${i}]`));
    const op = check('OperationSpec', await admin.integration(key).getOperation('get-user'), 'getOperation');
    assert.equal(op.key, 'get-user');
    assert.equal(op.description, 'The current user');
    assert.deepEqual(op.inputSchema, { type: 'object' });
    await expectError(admin.integration(key).getOperation('nope'), 'BadRequestError', 'not_found');

    const collections = await admin.integration(key).getDataCollections();
    assert.deepEqual(
      collections.map((c) => [c.key, c.name, c.type]).sort(),
      [
        ['contacts', 'Contacts', 'collection'],
        ['deals', 'Deals', 'collection'],
      ],
    );
    assert.equal(collections.find((c) => c.key === 'deals').isHidden, true);
    const contacts = check('DataCollectionSpec', await admin.integration(key).getDataCollection('contacts'), 'getDataCollection');
    assert.equal(contacts.name, 'Contacts');
    assert.deepEqual(contacts.fieldsSchema, CONNECTOR_BODY('x').data.contacts.fieldsSchema);
    await expectError(admin.integration(key).getDataCollection('nope'), 'BadRequestError', 'not_found');
  });

  it('an integration without a connector says so instead of inventing a spec', async () => {
    const key = unique('bare');
    await admin.integrations.create({ key, name: 'Bare' });
    // `configuration` errors have no documented keys.
    const err = await expectError(admin.integration(key).getConnectorSpec(), 'ConfigurationError', null);
    assert.match(err.message, /connector/i);
  });

  it('errors: unknown selector, duplicate key, customer token writing', async () => {
    await expectError(admin.integration('no-such-integration').get(), 'BadRequestError', 'not_found');
    await expectError(admin.integration('no-such-integration').patch({ name: 'x' }), 'BadRequestError', 'not_found');
    await expectError(admin.integration('no-such-integration').archive(), 'BadRequestError', 'not_found');
    await expectError(admin.integration('no-such-integration').restore(), 'BadRequestError', 'not_found');
    const key = unique('dup');
    await admin.integrations.create({ key, name: 'One' });
    await expectError(admin.integrations.create({ key, name: 'Two' }), 'BadRequestError', 'already_exists');
    assert.equal((await admin.integration(key).get()).name, 'One');

    const customer = server.customer(unique('tenant'));
    await expectError(customer.integrations.create({ key: unique('c'), name: 'Nope' }), 'BadRequestError', 'access_denied');
    await expectError(customer.integration(key).patch({ name: 'Nope' }), 'BadRequestError', 'access_denied');
    await expectError(customer.integration(key).archive(), 'BadRequestError', 'access_denied');
    assert.equal((await admin.integration(key).get()).archivedAt, undefined);
    // Reading is allowed, and shows the customer is not connected.
    const seen = check('IntegrationApiResponse', await customer.integration(key).get());
    assert.equal(seen.name, 'One');
    assert.equal(seen.isConnected, false);
    const page = checkPage('IntegrationListItem', await customer.integrations.find());
    assert.ok(page.items.some((i) => i.key === key));
  });
});
