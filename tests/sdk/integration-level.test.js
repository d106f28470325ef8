'use strict';
// Integration-level elements: created with `integrationKey` and addressed by the
// object selector `{key, integrationKey}` (`/action?…`), nested under their
// integration (`client.integration(x).actions…`, style C), derived from a universal
// parent and reset back to it, and the seed's flat `?layer=…&integrationKey=…` routes.

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, check, checkPage, expectError, unique } = require('./harness');

const NODES = { trigger: { type: 'api-trigger', links: [{ key: 'out' }] }, out: { type: 'transform-data' } };

/** The four kinds that live at integration level, with their SDK accessors. */
const KINDS = [
  {
    name: 'actions',
    schema: 'ActionApiResponse',
    list: (c) => c.actions,
    one: (c, s) => c.action(s),
    nestedList: (i) => i.actions,
    nestedOne: (i, s) => i.action(s),
    body: (key) => ({ key, name: `Action ${key}`, type: 'run-javascript', config: { code: 'return 1' } }),
    own: { config: { code: 'return 2' } },
    field: 'config',
    parentField: 'parentId',
  },
  {
    name: 'flows',
    schema: 'FlowApiResponse',
    list: (c) => c.flows,
    one: (c, s) => c.flow(s),
    nestedList: (i) => i.flows,
    nestedOne: (i, s) => i.flow(s),
    body: (key) => ({ key, name: `Flow ${key}`, nodes: NODES }),
    own: { nodes: { trigger: { type: 'api-trigger' } } },
    field: 'nodes',
    parentField: 'universalFlowId',
  },
  {
    name: 'dataSources',
    schema: 'DataSourceApiResponse',
    list: (c) => c.dataSources,
    one: (c, s) => c.dataSource(s),
    nestedList: (i) => i.dataSources,
    nestedOne: (i, s) => i.dataSource(s),
    body: (key) => ({ key, name: `Data source ${key}`, collectionKey: 'contacts' }),
    own: { collectionKey: 'deals' },
    field: 'collectionKey',
    parentField: 'universalDataSourceId',
  },
  {
    name: 'fieldMappings',
    schema: 'FieldMappingApiResponse',
    list: (c) => c.fieldMappings,
    one: (c, s) => c.fieldMapping(s),
    nestedList: (i) => i.fieldMappings,
    nestedOne: (i, s) => i.fieldMapping(s),
    body: (key) => ({ key, name: `Field mapping ${key}`, direction: 'import' }),
    own: { direction: 'export' },
    field: 'direction',
    parentField: 'universalFieldMappingId',
  },
];

describe('integration-level elements', () => {
  let server;
  let admin;
  let integration;
  let other;

  useServer((s) => {
    server = s;
    admin = s.admin();
  });
  before(async () => {
    integration = await admin.integrations.create({ key: unique('hubspot'), name: 'HubSpot' });
    other = await admin.integrations.create({ key: unique('pipedrive'), name: 'Pipedrive' });
  });

  for (const K of KINDS) {
    describe(K.name, () => {
      it('create with integrationKey; get/patch/put/archive/restore by {key, integrationKey}', async () => {
        const key = unique(K.name.toLowerCase());
        const created = check(K.schema, await K.list(admin).create({ ...K.body(key), integrationKey: integration.key }), `${K.name}.create with integrationKey`);
        assert.equal(created.integrationId, integration.id);
        assert.equal(created.isUniversal, false);
        // The same key may exist in another integration and universally.
        const elsewhere = await K.list(admin).create({ ...K.body(key), integrationId: other.id });
        const universal = await K.list(admin).create(K.body(key));
        assert.notEqual(elsewhere.id, created.id);
        assert.equal(universal.isUniversal, true);
        await expectError(K.list(admin).create({ ...K.body(key), integrationKey: integration.key }), 'BadRequestError', 'already_exists');

        const sel = { key, integrationKey: integration.key };
        const got = check(K.schema, await K.one(admin, sel).get(), `${K.name} get by {key, integrationKey}`);
        assert.equal(got.id, created.id);
        const viaId = check(K.schema, await K.one(admin, { key, integrationId: other.id }).get());
        assert.equal(viaId.id, elsewhere.id);
        assert.equal((await K.one(admin, created.id).get()).id, created.id);

        const patched = check(K.schema, await K.one(admin, sel).patch({ name: 'Renamed', ...K.own }), `${K.name} patch by selector`);
        assert.equal(patched.name, 'Renamed');
        assert.deepEqual(patched[K.field], K.own[K.field]);
        assert.equal((await K.one(admin, sel).get()).name, 'Renamed');
        assert.equal((await K.one(admin, universal.id).get()).name, universal.name, 'the universal element is untouched');

        const put = check(K.schema, await K.one(admin, sel).put({ ...K.body(key), name: 'Put' }), `${K.name} put by selector`);
        assert.equal(put.name, 'Put');
        assert.equal(put.integrationId, integration.id);

        const listed = checkPage(K.schema, await K.list(admin).find({ integrationKey: integration.key }), `${K.name}.find({integrationKey})`);
        assert.ok(listed.items.some((e) => e.id === created.id));
        assert.ok(listed.items.every((e) => e.integrationId === integration.id));
        const universalOnly = await K.list(admin).find({ layer: 'universal' });
        assert.ok(universalOnly.items.some((e) => e.id === universal.id));
        assert.ok(universalOnly.items.every((e) => e.integrationId === undefined));

        await K.one(admin, sel).archive();
        assert.ok((await K.one(admin, sel).get()).archivedAt);
        assert.equal((await K.list(admin).find({ integrationKey: integration.key })).items.some((e) => e.id === created.id), false);
        await expectError(K.one(admin, sel).patch({ name: 'x' }), 'BadRequestError', 'not_editable');
        const restored = check(K.schema, await K.one(admin, sel).restore(), `${K.name} restore by selector`);
        assert.equal(restored.archivedAt, undefined);
        assert.ok((await K.list(admin).find({ integrationKey: integration.key })).items.some((e) => e.id === created.id));

        await expectError(K.one(admin, { key: 'no-such', integrationKey: integration.key }).get(), 'BadRequestError', 'not_found');
        await expectError(K.one(admin, { key, integrationKey: 'no-such-integration' }).get(), 'BadRequestError', 'not_found');
      });

      it('derived from a universal parent: customised by patch, reset back by selector', async () => {
        const key = unique(K.name.toLowerCase());
        const parent = await K.list(admin).create(K.body(key));
        const child = check(
          K.schema,
          await K.list(admin).create({ key, integrationKey: integration.key, parentId: parent.id }),
          `${K.name}.create with a universal parent`,
        );
        assert.equal(child[K.parentField], parent.id);
        assert.equal(child.isCustomized, false);
        assert.deepEqual(child[K.field], parent[K.field], 'a child made without its own definition copies its parent');

        const sel = { key, integrationKey: integration.key };
        const customised = await K.one(admin, sel).patch({ name: 'Custom', ...K.own });
        assert.equal(customised.isCustomized, true);
        assert.deepEqual(customised[K.field], K.own[K.field]);

        const universal = check(K.schema, await K.one(admin, parent.id).get());
        assert.ok(Array.isArray(universal.appliedToIntegrations));
        const applied = universal.appliedToIntegrations.find((a) => a.element.id === child.id);
        assert.ok(applied, 'the universal element lists its integration-level version');
        assert.equal(applied.integration.id, integration.id);

        const reset = check(K.schema, await K.one(admin, sel).reset(), `${K.name} reset by selector`);
        assert.equal(reset.isCustomized, false);
        assert.equal(reset.name, parent.name);
        assert.deepEqual(reset[K.field], parent[K.field]);
        const after = await K.one(admin, sel).get();
        assert.deepEqual(after[K.field], parent[K.field]);
        assert.equal(after.isCustomized, false);
      });

      it('style C: integration(x).<kind>.create/list and .<one>(y).get/patch/put/reset/archive', async () => {
        const ia = admin.integration(integration.key);
        const key = unique(K.name.toLowerCase());
        const created = check(K.schema, await K.nestedList(ia).create(K.body(key)), `integration(x).${K.name}.create`);
        assert.equal(created.integrationId, integration.id);
        const listed = checkPage(K.schema, await K.nestedList(ia).list(), `integration(x).${K.name}.list`);
        assert.ok(listed.items.some((e) => e.id === created.id));
        assert.ok(listed.items.every((e) => e.integrationId === integration.id));
        const otherList = await K.nestedList(admin.integration(other.id)).list();
        assert.equal(otherList.items.some((e) => e.id === created.id), false);

        const one = K.nestedOne(ia, key);
        assert.equal(check(K.schema, await one.get(), `integration(x).${K.name}(y).get`).id, created.id);
        assert.equal(check(K.schema, await K.nestedOne(ia, created.id).get()).id, created.id);
        const patched = check(K.schema, await one.patch({ name: 'Nested patch' }), `integration(x).${K.name}(y).patch`);
        assert.equal(patched.name, 'Nested patch');
        assert.equal((await one.get()).name, 'Nested patch');
        const put = check(K.schema, await one.put({ ...K.body(key), name: 'Nested put' }), `integration(x).${K.name}(y).put`);
        assert.equal(put.name, 'Nested put');
        assert.equal(check(K.schema, await one.reset(), `integration(x).${K.name}(y).reset`).id, created.id);
        // Unlike the top-level accessors, this archive() passes the server's body on.
        const archived = check(K.schema, await one.archive(), `integration(x).${K.name}(y).archive`);
        assert.ok(archived.archivedAt);
        assert.ok((await one.get()).archivedAt);
        assert.equal((await K.nestedList(ia).list()).items.some((e) => e.id === created.id), false);
        assert.ok((await K.nestedList(ia).list({ includeArchived: true })).items.some((e) => e.id === created.id));

        await expectError(K.nestedOne(ia, 'no-such').get(), 'BadRequestError', 'not_found');
        await expectError(K.nestedOne(admin.integration('no-such-integration'), key).get(), 'BadRequestError', 'not_found');
        const customer = server.customer(unique('tenant'));
        await expectError(K.nestedList(customer.integration(integration.key)).create(K.body(unique('c'))), 'BadRequestError', 'access_denied');
      });
    });
  }

  it('flows: the seed refresh with ?layer=integration&integrationKey=…', async () => {
    const key = unique('flow');
    const universal = await admin.flows.create({ key, name: 'Universal', nodes: NODES });
    const specific = await admin.flows.create({ key, name: 'Specific', nodes: NODES, integrationKey: integration.key });
    const refreshed = check('FlowApiResponse', await admin.post(`/flows/${key}/refresh?layer=integration&integrationKey=${integration.key}`), 'refresh integration layer');
    assert.equal(refreshed.id, specific.id);
    assert.ok(refreshed.dependencies.some((d) => d.id === integration.id), 'the integration is a dependency');
    const refreshedU = check('FlowApiResponse', await admin.post(`/flows/${key}/refresh?layer=universal`));
    assert.equal(refreshedU.id, universal.id);
    await expectError(admin.post(`/flows/${key}/refresh?layer=integration&integrationKey=no-such`), 'BadRequestError', 'not_found');
  });

  it('packages: integration-level create and the seed flat restore with integrationKey', async () => {
    const key = unique('pkg');
    const universal = await admin.packages.create({ key, name: 'U' });
    const specific = check('PackageApiResponse', await admin.packages.create({ key, name: 'S', integrationKey: integration.key }));
    assert.equal(specific.integrationId, integration.id);
    await admin.package(specific.id).archive();
    const restored = check(
      'PackageApiResponse',
      await admin.post(`/packages/${key}/restore?layer=integration&integrationKey=${integration.key}`),
      'flat package restore, integration layer',
    );
    assert.equal(restored.id, specific.id);
    assert.equal(restored.archivedAt, undefined);
    assert.equal((await admin.package(universal.id).get()).archivedAt, undefined);
  });
});
