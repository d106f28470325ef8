'use strict';
// Data source instances with the SDK's own accessor: dataSourceInstance(x).getCollection,
// listRecords, findRecordById, matchRecord, searchRecords, createRecord, updateRecord,
// deleteRecord and unifiedFieldsToNative, through a data source defined by its unified
// model (`udm: contacts`). Responses parsed with the SDK's zod schemas; another
// customer reaches none of it. Setup stores the instance's collectionSpec, and a
// field mapping of the data source written in unified terms gets its
// unifiedImportValue/unifiedExportValue.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, check, expectError, startMockApi, unique } = require('./harness');

describe('data source instances', () => {
  let server;
  let admin;
  let api;
  let apiKey;
  let a;
  let b;
  let conn;
  let bConn;
  const dsKey = unique('people');
  const contacts = new Map();

  useServer((s) => {
    server = s;
    admin = s.admin();
  });

  before(async () => {
    apiKey = `key-${unique('k')}`;
    for (let i = 1; i <= 3; i++) contacts.set(String(i), { id: String(i), first: `First${i}`, last: `Last${i}`, email: `p${i}@x.io` });
    api = await startMockApi((req, { url, body }) => {
      if (req.headers['x-api-key'] !== apiKey) return [401, { message: 'bad key' }];
      const parts = url.pathname.split('/').filter(Boolean);
      if (url.pathname === '/me') return [200, { id: 'u-1' }];
      if (parts[0] !== 'contacts') return [404, { message: 'no route' }];
      if (parts.length === 1 && req.method === 'POST') {
        const id = String(100 + contacts.size);
        contacts.set(id, { id, ...body });
        return [201, { id }];
      }
      if (parts.length === 1) {
        const q = url.searchParams.get('q');
        const email = url.searchParams.get('email');
        return [200, { items: [...contacts.values()].filter((c) => (!q || c.last.includes(q)) && (!email || c.email === email)) }];
      }
      const c = contacts.get(parts[1]);
      if (!c) return [404, { message: 'no such contact' }];
      if (req.method === 'PATCH') return [200, Object.assign(c, body)];
      if (req.method === 'DELETE') {
        contacts.delete(parts[1]);
        return [204, undefined];
      }
      return [200, c];
    });
    const v = (p) => ({ $var: p });
    const rest = (path, method, requestMapping, responseMapping) => ({
      type: 'rest-api-mapping',
      mapping: { path, method, ...(requestMapping && { requestMapping }), ...(responseMapping && { responseMapping }) },
    });
    const connector = await admin.post('/connectors', {
      key: unique('crm'),
      name: 'CRM',
      type: 'client-credentials',
      makeApiClient: { type: 'mapping', mapping: { baseUri: api.base, headers: { 'x-api-key': v('$.credentials.apiKey') } } },
      test: rest('/me', 'GET'),
      data: {
        contacts: {
          name: 'Contacts',
          list: rest('/contacts', 'GET', null, { records: v('$.response.data.items') }),
          search: rest('/contacts', 'GET', { query: { q: v('$.query') } }, { records: v('$.response.data.items') }),
          match: rest('/contacts', 'GET', { query: { email: v('$.query.email') } }, { record: v('$.response.data.items[0]') }),
          findById: rest('/contacts/{id}', 'GET', { pathParameters: { id: v('$.id') } }),
          create: rest('/contacts', 'POST', { data: v('$.fields') }, { id: v('$.response.data.id') }),
          update: rest('/contacts/{id}', 'PATCH', { pathParameters: { id: v('$.id') }, data: v('$.fields') }),
          delete: rest('/contacts/{id}', 'DELETE', { pathParameters: { id: v('$.id') } }),
          recordFromApi: { type: 'mapping', mapping: { id: v('$.id'), name: v('$.last'), fields: { first: v('$.first'), last: v('$.last'), email: v('$.email') } } },
          udm: {
            contacts: {
              extract: { firstName: v('$.first'), lastName: v('$.last'), primaryEmail: v('$.email') },
              parse: { first: v('$.firstName'), last: v('$.lastName'), email: v('$.primaryEmail') },
            },
          },
        },
      },
    });
    const integration = await admin.integrations.create({ key: unique('crm'), name: 'CRM', connectorId: connector.id });
    await admin.dataSources.create({ key: dsKey, name: 'People', udm: 'contacts' });
    a = server.customer(unique('tenant-a'));
    b = server.customer(unique('tenant-b'));
    conn = await a.connections.create({ integrationId: integration.id, name: 'A CRM', input: { apiKey } });
    bConn = await b.connections.create({ integrationId: integration.id, name: 'B CRM', input: { apiKey } });
  });

  after(() => api?.close());

  it('every collection call through the instance, unified both ways', async () => {
    const ds = a.dataSourceInstance({ dataSourceKey: dsKey, connectionId: conn.id, autoCreate: true });
    const spec = check('DataCollectionSpec', await ds.getCollection(), 'getCollection');
    assert.equal(spec.name, 'Contacts');
    const page = check('DataCollectionListResponse', await ds.listRecords(), 'listRecords');
    assert.equal(page.records.length, 3);
    assert.deepEqual(page.records[0].unifiedFields, { firstName: 'First1', lastName: 'Last1', primaryEmail: 'p1@x.io' });
    assert.equal(page.records[0].udm, 'contacts');
    const found = check('DataCollectionFindByIdResponse', await ds.findRecordById('2'), 'findRecordById');
    assert.equal(found.record.unifiedFields.primaryEmail, 'p2@x.io');
    const matched = check('DataCollectionMatchResponse', await ds.matchRecord({ query: { email: 'p3@x.io' } }), 'matchRecord');
    assert.equal(matched.record.id, '3');
    const searched = check('DataCollectionSearchResponse', await ds.searchRecords({ query: 'Last2' }), 'searchRecords');
    assert.deepEqual(searched.records.map((r) => r.id), ['2']);
    const created = check('DataCollectionCreateResponse', await ds.createRecord({ fields: { firstName: 'Uma', lastName: 'Unified', primaryEmail: 'u@x.io' } }), 'createRecord');
    assert.deepEqual(contacts.get(created.id), { id: created.id, first: 'Uma', last: 'Unified', email: 'u@x.io' });
    await ds.updateRecord({ id: created.id, fields: { lastName: 'Updated' } });
    assert.equal(contacts.get(created.id).last, 'Updated');
    await ds.deleteRecord(created.id);
    assert.equal(contacts.has(created.id), false);
    assert.deepEqual(await ds.unifiedFieldsToNative({ firstName: 'N', primaryEmail: 'n@x.io' }), { first: 'N', email: 'n@x.io' });
  });

  it('setup stores the collection spec and the unified mapping values', async () => {
    const ds = a.dataSourceInstance({ dataSourceKey: dsKey, connectionId: conn.id, autoCreate: true });
    await ds.setup();
    const instance = check('DataSourceInstanceApiResponse', await ds.get(), 'dataSourceInstance.get');
    assert.equal(instance.state, 'READY');
    assert.equal(instance.collectionKey, 'contacts');
    assert.deepEqual(instance.collectionSpec, check('DataCollectionSpec', await ds.getCollection(), 'getCollection'));
    const v = (p) => ({ $var: p });
    const fmKey = unique('people-map');
    await admin.fieldMappings.create({
      key: fmKey,
      name: 'People map',
      dataSourceKey: dsKey,
      importValue: { mail: v('$.primaryEmail') },
      exportValue: { primaryEmail: v('$.mail') },
    });
    const fmi = a.connection(conn.id).fieldMapping(fmKey);
    const made = await fmi.get({ autoCreate: true });
    const set = check('FieldMappingInstanceApiResponse', await a.fieldMappingInstance(made.id).setup(), 'fieldMappingInstance.setup');
    assert.deepEqual(set.unifiedImportValue, { mail: v('$.primaryEmail') });
    assert.deepEqual(set.unifiedExportValue, { primaryEmail: v('$.mail') });
    assert.equal(set.dataSourceInstanceId, instance.id);
  });

  it('another customer reaches none of it', async () => {
    const mine = await a.dataSourceInstance({ dataSourceKey: dsKey, connectionId: conn.id, autoCreate: true }).get();
    await expectError(b.dataSourceInstance(mine.id).listRecords(), 'BadRequestError', 'not_found');
    await expectError(b.dataSourceInstance({ dataSourceKey: dsKey, connectionId: conn.id }).getCollection(), 'BadRequestError', 'not_found');
    // Bob's own instance works, on his own connection.
    const his = await b.dataSourceInstance({ dataSourceKey: dsKey, connectionId: bConn.id, autoCreate: true }).listRecords();
    assert.ok(his.records.length >= 3);
  });
});
