'use strict';
// App data schemas with the SDK's own accessors: a customer-specific schema computed
// by its code from "your app's" API as each customer (appDataSchemaInstance(x).get /
// setup), and a field mapping's app schema referencing it (fieldMapping(x).getAppSchema).
// Responses parsed with the SDK's zod schemas; another customer reaches none of it.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, check, expectError, startMockApi, unique } = require('./harness');

describe('app data schemas', () => {
  let server;
  let admin;
  let app;
  let a;
  let b;
  let aKey;
  const schemaKey = unique('deal');
  const mappingKey = unique('deal-map');

  useServer((s) => {
    server = s;
    admin = s.admin();
  });

  before(async () => {
    app = await startMockApi((req, { url }) => {
      const signed = (req.headers['x-membrane-token'] || '').split('.').length === 3;
      if (url.pathname !== '/fields' || !signed) return [401, { message: 'unsigned' }];
      return [200, { [`${url.searchParams.get('who')}_field`]: { type: 'string' } }];
    });
    await admin.appDataSchemas.create({
      key: schemaKey,
      name: 'Deal',
      code: `export default async ({user, internalApiClient}) => ({type: 'object', properties: await internalApiClient.get('${app.base}/fields', {who: user.internalId})})`,
    });
    await admin.fieldMappings.create({ key: mappingKey, name: 'Deal map', appSchema: { $dataSchemaRef: { type: 'internal-data-schema', key: schemaKey } } });
    aKey = unique('tenant-a');
    a = server.customer(aKey);
    b = server.customer(unique('tenant-b'));
  });

  after(() => app?.close());

  it("appDataSchemaInstance(x) holds each customer's own schema; getAppSchema resolves it", async () => {
    const instance = check('AppDataSchemaInstanceApiResponse', await a.appDataSchemaInstance({ appDataSchemaKey: schemaKey, autoCreate: true }).get(), 'appDataSchemaInstance.get');
    await a.appDataSchemaInstance(instance.id).setup();
    const again = check('AppDataSchemaInstanceApiResponse', await a.appDataSchemaInstance(instance.id).get(), 'after setup');
    assert.deepEqual(again.schema, { type: 'object', properties: { [`${aKey}_field`]: { type: 'string' } } });
    const appSchema = await a.fieldMapping(mappingKey).getAppSchema();
    assert.deepEqual(appSchema, again.schema);
    await expectError(b.appDataSchemaInstance(instance.id).get(), 'BadRequestError', 'not_found');
    await expectError(b.appDataSchemaInstance(instance.id).setup(), 'BadRequestError', 'not_found');
  });
});
