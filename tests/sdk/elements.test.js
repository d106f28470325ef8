'use strict';
// The lifecycle every workspace element shares, driven through each type's SDK
// accessors: create, get (by key, id and object selector), find/findAll, patch, put,
// archive, restore, plus the errors the lifecycle can raise. Type-specific calls
// (setup, reset, getAppSchema, package elements, the seed refresh/restore) follow.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { sdk, useServer, check, checkPage, expectError, unique } = require('./harness');

const TRIGGER_FLOW_NODES = {
  trigger: { type: 'api-trigger', name: 'Start', links: [{ key: 'shape' }] },
  shape: { type: 'transform-data', config: { value: { $var: '$.input.trigger' } } },
};

/** One row per element type: how the SDK reaches it and what a valid body is. */
const TYPES = [
  {
    name: 'actions',
    schema: 'ActionApiResponse',
    list: (c) => c.actions,
    one: (c, s) => c.action(s),
    body: (key) => ({ key, name: `Action ${key}`, description: 'runs code', type: 'run-javascript', config: { code: 'return 1' }, inputSchema: { type: 'object' } }),
    field: ['type', 'run-javascript'],
  },
  {
    name: 'flows',
    schema: 'FlowApiResponse',
    list: (c) => c.flows,
    one: (c, s) => c.flow(s),
    body: (key) => ({ key, name: `Flow ${key}`, description: 'a flow', nodes: TRIGGER_FLOW_NODES, parametersSchema: { type: 'object' } }),
    field: ['nodes', TRIGGER_FLOW_NODES],
  },
  {
    name: 'packages',
    schema: 'PackageApiResponse',
    list: (c) => c.packages,
    one: (c, s) => c.package(s),
    body: (key) => ({ key, name: `Package ${key}`, description: 'a package', scenarioTemplateId: 'tmpl-1' }),
    field: ['scenarioTemplateId', 'tmpl-1'],
    stringSelectorOnly: true,
  },
  {
    name: 'dataSources',
    schema: 'DataSourceApiResponse',
    list: (c) => c.dataSources,
    one: (c, s) => c.dataSource(s),
    body: (key) => ({ key, name: `Data source ${key}`, description: 'contacts', collectionKey: 'contacts', pullUpdatesIntervalSeconds: 600 }),
    field: ['collectionKey', 'contacts'],
  },
  {
    name: 'fieldMappings',
    schema: 'FieldMappingApiResponse',
    list: (c) => c.fieldMappings,
    one: (c, s) => c.fieldMapping(s),
    body: (key) => ({
      key,
      name: `Field mapping ${key}`,
      description: 'maps contacts',
      direction: 'both',
      appSchema: { type: 'object', properties: { email: { type: 'string' } } },
    }),
    field: ['direction', 'both'],
  },
  {
    name: 'dataLinkTables',
    schema: 'DataLinkTableApiResponse',
    list: (c) => c.dataLinkTables,
    one: (c, s) => c.dataLinkTable(s),
    body: (key) => ({ key, name: `Links ${key}`, description: 'links', meta: { a: 1 } }),
    field: ['meta', { a: 1 }],
    stringSelectorOnly: true,
  },
  {
    name: 'appDataSchemas',
    schema: 'AppDataSchemaApiResponse',
    list: (c) => c.appDataSchemas,
    one: (c, s) => c.appDataSchema(s),
    body: (key) => ({ key, name: `Schema ${key}`, description: 'user', schema: { type: 'object', properties: { id: { type: 'string' } } } }),
    field: ['schema', { type: 'object', properties: { id: { type: 'string' } } }],
    stringSelectorOnly: true,
  },
  {
    name: 'appEventTypes',
    schema: 'AppEventTypeApiResponse',
    list: (c) => c.appEventTypes,
    one: (c, s) => c.appEventType(s),
    body: (key) => ({ key, name: `Event ${key}`, description: 'happened', schema: { type: 'object' }, example: { id: '1' } }),
    field: ['example', { id: '1' }],
    stringSelectorOnly: true,
  },
  {
    name: 'screens',
    schema: 'ScreenApiResponse',
    list: (c) => c.screens,
    one: (c, s) => c.screen(s),
    body: (key) => ({ type: 'integration', key, name: `Screen ${key}`, blocks: [{ type: 'flow', flowKey: 'x' }] }),
    field: ['blocks', [{ type: 'flow', flowKey: 'x' }]],
    noDescription: true,
  },
];

describe('workspace elements: shared lifecycle', () => {
  let server;
  let admin;

  useServer((s) => {
    server = s;
    admin = s.admin();
  });

  for (const T of TYPES) {
    describe(T.name, () => {
      it('create, get by key / id / object selector, find, findAll', async () => {
        const key = unique(T.name.toLowerCase());
        const body = T.body(key);
        const created = check(T.schema, await T.list(admin).create(body), `${T.name}.create`);
        assert.equal(created.key, key);
        assert.equal(created.name, body.name);
        assert.deepEqual(created[T.field[0]], T.field[1]);
        if (!T.noDescription) assert.equal(created.description, body.description);

        const byKey = check(T.schema, await T.one(admin, key).get(), `${T.name} get by key`);
        assert.equal(byKey.id, created.id);
        const byId = check(T.schema, await T.one(admin, created.id).get(), `${T.name} get by id`);
        assert.equal(byId.key, key);
        if (!T.stringSelectorOnly) {
          const byObject = check(T.schema, await T.one(admin, { key }).get(), `${T.name} get by {key}`);
          assert.equal(byObject.id, created.id);
          const byObjectId = check(T.schema, await T.one(admin, { id: created.id }).get(), `${T.name} get by {id}`);
          assert.equal(byObjectId.key, key);
        }

        const page = checkPage(T.schema, await T.list(admin).find(), `${T.name}.find`);
        assert.ok(page.items.some((e) => e.id === created.id));
        const all = await T.list(admin).findAll();
        all.forEach((e, i) => check(T.schema, e, `${T.name}.findAll[${i}]`));
        assert.equal(all.filter((e) => e.id === created.id).length, 1);
      });

      it('patch and put, seen by a follow-up get', async () => {
        const key = unique(T.name.toLowerCase());
        const body = T.body(key);
        const created = await T.list(admin).create(body);
        const patchBody = T.noDescription ? { name: 'Patched name' } : { name: 'Patched name', description: 'patched' };
        const patched = check(T.schema, await T.one(admin, key).patch(patchBody), `${T.name}.patch`);
        assert.equal(patched.name, 'Patched name');
        assert.deepEqual(patched[T.field[0]], T.field[1], 'PATCH keeps fields it does not name');
        if (created.revision !== undefined) assert.notEqual(patched.revision, created.revision);
        const got = await T.one(admin, created.id).get();
        assert.equal(got.name, 'Patched name');
        if (!T.noDescription) assert.equal(got.description, 'patched');

        const { description, ...withoutDescription } = body;
        const put = check(T.schema, await T.one(admin, key).put({ ...withoutDescription, name: 'Put name' }), `${T.name}.put`);
        assert.equal(put.name, 'Put name');
        assert.equal(put.description, undefined, 'PUT removes what it does not name');
        assert.deepEqual(put[T.field[0]], T.field[1]);
        const afterPut = await T.one(admin, key).get();
        assert.equal(afterPut.name, 'Put name');
        assert.equal(afterPut.description, undefined);
      });

      it('archive hides from find, restore brings back; archived elements refuse PATCH', async () => {
        const key = unique(T.name.toLowerCase());
        const created = await T.list(admin).create(T.body(key));
        // ScreenApiResponse has no archivedAt; such types show archiving only in lists.
        const showsArchivedAt = 'archivedAt' in sdk[T.schema].shape;
        assert.equal(await T.one(admin, key).archive(), undefined);
        const archived = check(T.schema, await T.one(admin, created.id).get(), `${T.name} archived get`);
        if (showsArchivedAt) {
          assert.equal(typeof archived.archivedAt, 'string');
          assert.ok(!Number.isNaN(Date.parse(archived.archivedAt)));
        }
        assert.equal((await T.list(admin).findAll()).some((e) => e.id === created.id), false, 'hidden from findAll()');
        assert.equal((await T.list(admin).find()).items.some((e) => e.id === created.id), false, 'hidden from find()');
        const withArchived = checkPage(T.schema, await T.list(admin).find({ includeArchived: true }));
        assert.ok(withArchived.items.some((e) => e.id === created.id && (e.archivedAt || !showsArchivedAt)));
        await expectError(T.one(admin, created.id).patch({ name: 'Changed while archived' }), 'BadRequestError', 'not_editable');
        assert.equal((await T.one(admin, created.id).get()).name, created.name);

        const restored = check(T.schema, await T.one(admin, key).restore(), `${T.name}.restore`);
        assert.equal(restored.archivedAt, undefined);
        assert.equal((await T.one(admin, created.id).get()).archivedAt, undefined);
        assert.ok((await T.list(admin).findAll()).some((e) => e.id === created.id));
      });

      it('errors: unknown selector, duplicate key, stale revision, customer writes', async () => {
        await expectError(T.one(admin, 'no-such-element').get(), 'BadRequestError', 'not_found');
        await expectError(T.one(admin, 'no-such-element').patch({ name: 'x' }), 'BadRequestError', 'not_found');
        if (!T.stringSelectorOnly) {
          await expectError(T.one(admin, { key: 'no-such-element' }).get(), 'BadRequestError', 'not_found');
        }
        const key = unique(T.name.toLowerCase());
        const created = await T.list(admin).create(T.body(key));
        await expectError(T.list(admin).create(T.body(key)), 'BadRequestError', 'already_exists');

        const revision = (await T.one(admin, key).get()).revision;
        if (revision !== undefined) {
          await T.one(admin, key).patch({ name: 'Newer' });
          await expectError(T.one(admin, key).patch({ name: 'Stale', revision }), 'ConcurrencyError', 'stale_revision');
          assert.equal((await T.one(admin, key).get()).name, 'Newer');
        }

        const customer = server.customer(unique('tenant'));
        await expectError(T.list(customer).create(T.body(unique('c'))), 'BadRequestError', 'access_denied');
        await expectError(T.one(customer, key).patch({ name: 'by customer' }), 'BadRequestError', 'access_denied');
        await expectError(T.one(customer, key).archive(), 'BadRequestError', 'access_denied');
        const seen = check(T.schema, await T.one(customer, created.id).get(), `${T.name} read by a customer`);
        assert.equal(seen.id, created.id);
        assert.equal(seen.archivedAt, undefined);
      });
    });
  }

  describe('type-specific calls', () => {
    it('actions: reset on a universal action keeps it; run-less accessors only', async () => {
      const key = unique('act');
      const created = await admin.actions.create({ key, name: 'Reset me', type: 'run-javascript' });
      const reset = check('ActionApiResponse', await admin.action(key).reset(), 'action.reset');
      assert.equal(reset.id, created.id);
      assert.equal(reset.type, 'run-javascript');
    });

    it('flows: reset, and the seed refresh endpoint (flat selector with layer)', async () => {
      const key = unique('flow');
      const created = await admin.flows.create({ key, name: 'Refreshable', nodes: TRIGGER_FLOW_NODES });
      assert.equal(created.state, 'READY');
      assert.equal(check('FlowApiResponse', await admin.flow(key).reset(), 'flow.reset').id, created.id);
      const refreshed = check('FlowApiResponse', await admin.post(`/flows/${key}/refresh?layer=universal`), 'POST /flows/{sel}/refresh');
      assert.equal(refreshed.id, created.id);
      assert.equal(refreshed.state, 'READY');
      assert.ok(Array.isArray(refreshed.dependencies));

      // A broken graph is saved and reported, and a refresh re-evaluates it.
      const broken = check('FlowApiResponse', await admin.flows.create({ key: unique('flow'), name: 'Broken', nodes: { a: { type: 'api-trigger', links: [{ key: 'missing' }] } } }));
      assert.equal(broken.state, 'CONFIGURATION_ERROR');
      assert.ok(broken.errors.length > 0);
      const fixed = await admin.flow(broken.id).patch({ nodes: { a: { type: 'api-trigger' } } });
      assert.equal(fixed.state, 'READY');
      const r2 = check('FlowApiResponse', await admin.post(`/flows/${broken.id}/refresh`));
      assert.equal(r2.state, 'READY');
      await expectError(admin.post('/flows/no-such-flow/refresh?layer=universal'), 'BadRequestError', 'not_found');
    });

    it('dataSources: setup and reset', async () => {
      const key = unique('ds');
      const created = await admin.dataSources.create({ key, name: 'DS', collectionKey: 'contacts' });
      await admin.dataSource(key).setup();
      assert.equal(check('DataSourceApiResponse', await admin.dataSource(key).get()).state, 'READY');
      assert.equal(check('DataSourceApiResponse', await admin.dataSource(key).reset(), 'dataSource.reset').id, created.id);
    });

    it('fieldMappings: getAppSchema, setup, reset', async () => {
      const key = unique('fm');
      const appSchema = { type: 'object', properties: { email: { type: 'string' } } };
      const created = await admin.fieldMappings.create({ key, name: 'FM', appSchema, direction: 'import' });
      assert.deepEqual(await admin.fieldMapping(key).getAppSchema(), appSchema);
      check('FieldMappingApiResponse', await admin.fieldMapping(key).setup(), 'fieldMapping.setup');
      assert.equal(check('FieldMappingApiResponse', await admin.fieldMapping(key).reset(), 'fieldMapping.reset').id, created.id);
    });

    it('packages: created with elements, embedded on get; the seed flat restore', async () => {
      const flow = await admin.flows.create({ key: unique('flow'), name: 'Packaged flow', nodes: TRIGGER_FLOW_NODES });
      const action = await admin.actions.create({ key: unique('act'), name: 'Packaged action', type: 'run-javascript' });
      const key = unique('pkg');
      const created = check(
        'PackageApiResponse',
        await admin.packages.create({
          key,
          name: 'Bundle',
          elements: [
            { type: 'flow', id: flow.id },
            { type: 'action', id: action.id },
          ],
        }),
        'packages.create with elements',
      );
      assert.deepEqual(
        created.elements.map((e) => [e.type, e.id]),
        [
          ['flow', flow.id],
          ['action', action.id],
        ],
      );
      const got = check('PackageApiResponse', await admin.package(key).get());
      const embeddedFlow = got.elements.find((e) => e.type === 'flow').element;
      check('FlowApiResponse', embeddedFlow, 'package.elements[flow].element');
      assert.equal(embeddedFlow.key, flow.key);
      check('ActionApiResponse', got.elements.find((e) => e.type === 'action').element, 'package.elements[action].element');

      await expectError(admin.packages.create({ key: unique('pkg'), name: 'Bad', elements: [{ type: 'flow', id: 'flw_nope' }] }), 'BadRequestError', 'not_found');
      await expectError(admin.packages.create({ key: unique('pkg'), name: 'Bad', elements: [{ type: 'customer', id: 'x' }] }), 'BadRequestError', 'invalid_field');

      await admin.package(key).archive();
      assert.ok((await admin.package(key).get()).archivedAt);
      const restored = check('PackageApiResponse', await admin.post(`/packages/${key}/restore?layer=universal`), 'POST /packages/{sel}/restore?layer=');
      assert.equal(restored.id, created.id);
      assert.equal(restored.archivedAt, undefined);
      assert.equal((await admin.package(created.id).get()).archivedAt, undefined);
      await expectError(admin.post('/packages/no-such-package/restore?layer=universal'), 'BadRequestError', 'not_found');
    });

    it('screens: object selector with type and key', async () => {
      const key = unique('screen');
      const created = await admin.screens.create({ type: 'integration', key, name: 'Screen', blocks: [] });
      const got = check('ScreenApiResponse', await admin.screen({ type: 'integration', key }).get(), 'screen({type,key}).get');
      assert.equal(got.id, created.id);
      await expectError(admin.screens.create({ key: unique('screen'), name: 'No type' }), 'BadRequestError', 'invalid_field');
    });
  });
});
