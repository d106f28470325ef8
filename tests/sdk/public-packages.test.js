'use strict';
// Public packages (crates/engine/src/public_packages.rs) and applying a package to
// integrations (crates/engine/src/elements/apply.rs): the SDK has the shapes
// (`PackageApiResponse` with `isPublic`, `isReadOnly`, `version`,
// `appliedToIntegrations`) but no calls, so the calls go through the raw client.
// Installing needs two workspaces on one server: server A makes workspace 1 and
// stops keeping its data; server B, on the same data (and database), makes
// workspace 2 and serves both.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { sdk, startServer, signJwt, check, checkPage, expectError, startMockApi, unique } = require('./harness');

const NODES = { trigger: { type: 'api-trigger', links: [{ key: 'out' }] }, out: { type: 'transform-data' } };

describe('public packages', () => {
  let server;
  /** Workspace 1 (the publisher) and 2 (the consumer), both served by `server`. */
  let admin1;
  let admin2;
  let customer1;
  let customer2;
  /** Admin tokens of workspace 1 and 2, and a customer token of workspace 2. */
  let tokens;

  /** The HTTP status a raw call answers (the SDK's errors do not carry it). */
  async function statusOf(token, method, path, body) {
    const r = await fetch(`${server.apiUri}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    await r.arrayBuffer();
    return r.status;
  }

  before(async () => {
    const ws1 = { workspaceKey: `wk1-${crypto.randomBytes(6).toString('hex')}`, workspaceSecret: crypto.randomBytes(24).toString('hex') };
    const first = await startServer({ ...ws1, keepData: true });
    // Something of workspace 1 to find again on the second server.
    const marker = await first.admin().actions.create({ key: unique('marker'), name: 'Made on server A', type: 'run-javascript' });
    await first.stop();
    server = await startServer({ dataDir: first.dataDir, database: first.database });
    assert.notEqual(server.workspaceKey, ws1.workspaceKey);
    admin1 = new sdk.MembraneClient({ token: signJwt({ iss: ws1.workspaceKey, isAdmin: true }, ws1.workspaceSecret), apiUri: server.apiUri });
    admin2 = server.admin();
    customer1 = new sdk.MembraneClient({ ...ws1, tenantKey: unique('tenant'), apiUri: server.apiUri });
    customer2 = server.customer(unique('tenant'));
    tokens = {
      admin1: signJwt({ iss: ws1.workspaceKey, isAdmin: true }, ws1.workspaceSecret),
      admin2: server.adminToken,
      customer2: signJwt({ iss: server.workspaceKey, id: unique('tenant') }, server.workspaceSecret),
    };
    // Both workspaces answer on the second server, each with its own elements.
    assert.equal((await admin1.action(marker.key).get()).id, marker.id);
    await expectError(admin2.action(marker.key).get(), 'BadRequestError', 'not_found');
  });
  after(async () => {
    await server?.stop();
  });

  /** A universal action, flow and package of them in `admin`'s workspace. */
  async function bundle(admin, name = 'Bundle') {
    const action = await admin.actions.create({ key: unique('act'), name: 'Sync contacts', type: 'run-javascript', config: { code: 'return 1' } });
    const flow = await admin.flows.create({ key: unique('flow'), name: 'Import contacts', nodes: NODES });
    const key = unique('pkg');
    const pkg = await admin.packages.create({
      key,
      name,
      elements: [
        { type: 'action', id: action.id },
        { type: 'flow', id: flow.id },
      ],
    });
    return { action, flow, key, pkg };
  }

  it('apply: a universal package and its elements get integration-level copies', async () => {
    const { action, flow, key, pkg } = await bundle(admin1);
    const integration = await admin1.integrations.create({ key: unique('hubspot'), name: 'HubSpot' });

    const applied = check('PackageApiResponse', await admin1.post(`/packages/${key}/apply`, { integrationKeys: [integration.key] }), 'apply');
    assert.equal(applied.id, pkg.id);
    assert.equal(applied.isUniversal, true);
    assert.ok(Array.isArray(applied.appliedToIntegrations), 'the universal package lists its copies');
    const entry = applied.appliedToIntegrations.find((a) => a.integration.id === integration.id);
    assert.ok(entry, `appliedToIntegrations names the integration: ${JSON.stringify(applied.appliedToIntegrations)}`);
    assert.equal(entry.element.isUniversal, false);
    assert.equal(entry.element.integrationId, integration.id);
    assert.equal(entry.element.parentId, pkg.id);

    const copy = check('PackageApiResponse', await admin1.package(entry.element.id).get(), 'the package copy');
    assert.equal(copy.key, key);
    assert.equal(copy.integrationId, integration.id);
    assert.equal(copy.parentId, pkg.id);
    assert.deepEqual(copy.elements.map((e) => e.type), ['action', 'flow']);

    const actionCopy = check('ActionApiResponse', await admin1.action(copy.elements[0].id).get(), 'the action copy');
    assert.notEqual(actionCopy.id, action.id);
    assert.equal(actionCopy.isUniversal, false);
    assert.equal(actionCopy.integrationId, integration.id);
    assert.equal(actionCopy.parentId, action.id);
    assert.equal(actionCopy.key, action.key);
    assert.equal(actionCopy.isCustomized, false);
    assert.equal((await admin1.action({ key: action.key, integrationKey: integration.key }).get()).id, actionCopy.id);

    const flowCopy = check('FlowApiResponse', await admin1.flow(copy.elements[1].id).get(), 'the flow copy');
    assert.notEqual(flowCopy.id, flow.id);
    assert.equal(flowCopy.isUniversal, false);
    assert.equal(flowCopy.integrationId, integration.id);
    assert.equal(flowCopy.universalFlowId, flow.id);
    assert.equal((await admin1.flow({ key: flow.key, integrationKey: integration.key }).get()).id, flowCopy.id);

    // Applying again makes nothing new.
    const again = check('PackageApiResponse', await admin1.post(`/packages/${key}/apply`, { integrationKeys: [integration.key] }), 'apply again');
    assert.deepEqual(
      again.appliedToIntegrations.map((a) => a.element.id),
      applied.appliedToIntegrations.map((a) => a.element.id),
    );
    assert.deepEqual((await admin1.package(copy.id).get()).elements.map((e) => e.id), copy.elements.map((e) => e.id));

    await expectError(customer1.post(`/packages/${key}/apply`, { integrationKeys: [integration.key] }), 'BadRequestError', 'access_denied');
  });

  it('publish, list, search and unpublish public packages', async () => {
    const tag = crypto.randomBytes(4).toString('hex');
    const { key, pkg } = await bundle(admin1, `Zebra Sync ${tag}`);
    assert.equal(check('PackageApiResponse', await admin1.package(key).get()).isPublic, false);

    await expectError(admin1.post(`/packages/${key}/publish`), 'BadRequestError', 'not_supported');
    assert.equal(await statusOf(tokens.admin1, 'POST', `/packages/${key}/publish`), 400);
    await admin1.post(`/packages/${key}/versions`, { version: '1.0.0', changelog: 'First' });
    const published = check('PackageApiResponse', await admin1.post(`/packages/${key}/publish`), 'publish');
    assert.equal(published.id, pkg.id);
    assert.equal(published.isPublic, true);
    assert.equal(check('PackageApiResponse', await admin1.package(key).get()).isPublic, true);

    const find = async (admin, query = {}) => {
      const page = checkPage('PackageApiResponse', await admin.get('/public-packages', query), `GET /public-packages ${JSON.stringify(query)}`);
      return { page, item: page.items.find((i) => i.id === pkg.id) };
    };
    const { item } = await find(admin1);
    assert.deepEqual(item, { id: pkg.id, uuid: pkg.uuid, key, name: `Zebra Sync ${tag}`, isUniversal: true, isPublic: true, version: '1.0.0', changelog: 'First' });
    // Every workspace sees it, and it shows its newest version.
    await admin1.post(`/packages/${key}/versions`, { version: '1.1.0', changelog: 'Second' });
    const seen = (await find(admin2)).item;
    assert.ok(seen, 'the other workspace lists it');
    assert.equal(seen.version, '1.1.0');
    assert.equal(seen.changelog, 'Second');
    assert.equal(seen.parentPackageVersion, '1.0.0');

    // search: the name or the key, whatever the case.
    assert.ok((await find(admin2, { search: `ZEBRA SYNC ${tag.toUpperCase()}` })).item, 'search by name');
    assert.ok((await find(admin2, { search: key.toUpperCase() })).item, 'search by key');
    const none = await find(admin2, { search: `no-such-${tag}` });
    assert.equal(none.item, undefined);
    assert.deepEqual(none.page.items, []);

    // limit and cursor walk every public package once.
    const other = await bundle(admin1, `Zebra Other ${tag}`);
    await admin1.post(`/packages/${other.key}/versions`, { version: '1.0.0' });
    await admin1.post(`/packages/${other.key}/publish`);
    const ids = [];
    let cursor;
    for (let i = 0; i < 50; i++) {
      const page = checkPage('PackageApiResponse', await admin2.get('/public-packages', { search: tag, limit: 1, ...(cursor ? { cursor } : {}) }), 'page');
      assert.ok(page.items.length <= 1);
      ids.push(...page.items.map((p) => p.id));
      cursor = page.cursor;
      if (!cursor) break;
    }
    assert.deepEqual([...ids].sort(), [pkg.id, other.pkg.id].sort());

    // Admin only.
    await expectError(customer2.get('/public-packages'), 'BadRequestError', 'access_denied');
    assert.equal(await statusOf(tokens.customer2, 'GET', '/public-packages'), 403);
    await expectError(customer1.post(`/packages/${key}/publish`), 'BadRequestError', 'access_denied');
    await expectError(customer1.post(`/packages/${key}/unpublish`), 'BadRequestError', 'access_denied');

    const unpublished = check('PackageApiResponse', await admin1.post(`/packages/${key}/unpublish`), 'unpublish');
    assert.equal(unpublished.isPublic, false);
    assert.equal((await admin1.package(key).get()).isPublic, false);
    assert.equal((await find(admin2)).item, undefined, 'an unpublished package leaves the list');
    assert.ok((await find(admin2)).page.items.some((i) => i.id === other.pkg.id));
  });

  it('install into another workspace: read-only package and elements, once, never your own or an unpublished one', async () => {
    const { action, flow, key, pkg } = await bundle(admin1);
    await admin1.post(`/packages/${key}/versions`, { version: '1.0.0' });
    await admin1.post(`/packages/${key}/publish`);
    // A newer working copy that is not a version: the install takes the version.
    await admin1.action(action.key).patch({ name: 'Unpublished rename' });

    const installed = check('PackageApiResponse', await admin2.post(`/public-packages/${pkg.id}/install`, {}), 'install');
    assert.equal(installed.uuid, pkg.uuid);
    assert.equal(installed.key, key);
    assert.equal(installed.isReadOnly, true);
    assert.equal(installed.version, '1.0.0');
    assert.equal(installed.isPublic, false);
    assert.deepEqual(installed.elements.map((e) => e.type), ['action', 'flow']);
    assert.equal(check('PackageApiResponse', await admin2.package(key).get(), 'installed package').id, installed.id);

    const a2 = check('ActionApiResponse', await admin2.action(action.key).get(), 'installed action');
    assert.equal(a2.uuid, action.uuid);
    assert.equal(a2.isReadOnly, true);
    assert.equal(a2.name, 'Sync contacts', 'the published version, not the working copy');
    assert.deepEqual(a2.config, action.config);
    const f2 = check('FlowApiResponse', await admin2.flow(flow.key).get(), 'installed flow');
    assert.equal(f2.uuid, flow.uuid);
    assert.equal(f2.isReadOnly, true);
    assert.deepEqual(installed.elements.map((e) => e.id), [a2.id, f2.id]);

    // Read-only: no write goes through.
    await expectError(admin2.action(action.key).patch({ name: 'Mine' }), 'BadRequestError', 'not_editable');
    await expectError(admin2.action(action.key).put({ key: action.key, name: 'Mine', type: 'run-javascript' }), 'BadRequestError', 'not_editable');
    await expectError(admin2.action(action.key).archive(), 'BadRequestError', 'not_editable');
    await expectError(admin2.flow(flow.key).patch({ name: 'Mine' }), 'BadRequestError', 'not_editable');
    await expectError(admin2.package(key).patch({ name: 'Mine' }), 'BadRequestError', 'not_editable');
    await expectError(admin2.package(key).archive(), 'BadRequestError', 'not_editable');
    assert.equal((await admin2.action(action.key).get()).name, 'Sync contacts');
    // The publisher's own stay theirs.
    assert.equal((await admin1.action(action.key).get()).isReadOnly ?? false, false);

    await expectError(admin2.post(`/public-packages/${pkg.id}/install`, {}), 'BadRequestError', 'already_exists');
    await expectError(admin1.post(`/public-packages/${pkg.id}/install`, {}), 'BadRequestError', 'not_supported');
    assert.equal(await statusOf(tokens.admin2, 'POST', `/public-packages/${pkg.id}/install`, {}), 409);
    assert.equal(await statusOf(tokens.admin1, 'POST', `/public-packages/${pkg.id}/install`, {}), 400);
    assert.equal(await statusOf(tokens.customer2, 'POST', `/public-packages/${pkg.id}/install`, {}), 403);
    await expectError(admin2.post(`/public-packages/${pkg.id}/install`, { version: '9.9.9' }), 'BadRequestError', 'not_found');
    // An installed package is not the consumer's to publish.
    await expectError(admin2.post(`/packages/${key}/publish`), 'BadRequestError', 'not_supported');
    await expectError(customer2.post(`/public-packages/${pkg.id}/install`, {}), 'BadRequestError', 'access_denied');

    // Not public: never published, unpublished, or no package at all.
    const hidden = await bundle(admin1);
    await admin1.post(`/packages/${hidden.key}/versions`, { version: '1.0.0' });
    await expectError(admin2.post(`/public-packages/${hidden.pkg.id}/install`, {}), 'BadRequestError', 'not_found');
    await admin1.post(`/packages/${hidden.key}/publish`);
    await admin1.post(`/packages/${hidden.key}/unpublish`);
    await expectError(admin2.post(`/public-packages/${hidden.pkg.id}/install`, {}), 'BadRequestError', 'not_found');
    await expectError(admin2.post('/public-packages/no-such-package/install', {}), 'BadRequestError', 'not_found');
    assert.equal(await statusOf(tokens.admin2, 'POST', `/public-packages/${hidden.pkg.id}/install`, {}), 404);
    await expectError(admin2.package(hidden.key).get(), 'BadRequestError', 'not_found');
  });

  it('upgrade: newer version in, dropped elements archived, customised copies kept, downgrade refused', async (t) => {
    // Workspace 1 publishes 1.0.0: two actions and a flow.
    const js = (v) => ({ code: `export default async () => '${v}'` });
    const renamed = await admin1.actions.create({ key: unique('act'), name: 'Sync contacts', type: 'run-javascript', config: js('contacts 1.0') });
    const customised = await admin1.actions.create({ key: unique('act'), name: 'Sync deals', type: 'run-javascript', config: js('deals 1.0') });
    const flow = await admin1.flows.create({ key: unique('flow'), name: 'Import contacts', nodes: NODES });
    const key = unique('pkg');
    const pkg = await admin1.packages.create({
      key,
      name: 'Upgradable',
      elements: [
        { type: 'action', id: renamed.id },
        { type: 'action', id: customised.id },
        { type: 'flow', id: flow.id },
      ],
    });
    await admin1.post(`/packages/${key}/versions`, { version: '1.0.0' });
    await admin1.post(`/packages/${key}/publish`);

    // Workspace 2 installs it, applies it to an integration of its own and customises one copy.
    const installed = await admin2.post(`/public-packages/${pkg.id}/install`, {});
    // An integration with a connector and a customer connection, to run the copies.
    const apiKey = unique('key');
    const api = await startMockApi((req) => (req.headers['x-api-key'] === apiKey ? [200, { id: 'u-1' }] : [401, { message: 'bad key' }]));
    t.after(() => api.close());
    const connector = await admin2.post('/connectors', {
      key: unique('crm'),
      name: 'CRM',
      type: 'client-credentials',
      makeApiClient: { type: 'mapping', mapping: { baseUri: api.base, headers: { 'x-api-key': { $var: '$.credentials.apiKey' } } } },
      test: { type: 'rest-api-mapping', mapping: { path: '/me', method: 'GET' } },
    });
    const integration = await admin2.integrations.create({ key: unique('hubspot'), name: 'HubSpot', connectorId: connector.id });
    const conn = await customer2.connections.create({ integrationId: integration.id, name: 'CRM', input: { apiKey } });
    const run = async (k) => (await customer2.action(k).run({}, { connectionId: conn.id })).output;
    const applied = check('PackageApiResponse', await admin2.post(`/packages/${key}/apply`, { integrationKeys: [integration.key] }), 'apply the installed package');
    const pkgCopy = applied.appliedToIntegrations.find((a) => a.integration.id === integration.id);
    assert.ok(pkgCopy, 'the installed package applies to the consumer integration');
    const at = (k) => ({ key: k, integrationKey: integration.key });
    const renamedCopy = check('ActionApiResponse', await admin2.action(at(renamed.key)).get(), 'copy to follow');
    assert.equal(renamedCopy.isCustomized, false);
    assert.equal(renamedCopy.isReadOnly ?? false, false, 'copies are the workspace own');
    assert.equal(await run(renamed.key), 'contacts 1.0');
    const mine = check('ActionApiResponse', await admin2.action(at(customised.key)).patch({ name: 'Mine', config: js('mine') }), 'customise a copy');
    assert.equal(await run(customised.key), 'mine');
    assert.equal(mine.isCustomized, true);
    const flowCopy = await admin2.flow(at(flow.key)).get();

    // Workspace 1 publishes 1.1.0: both actions changed, the flow dropped, a field mapping added.
    await admin1.action(renamed.key).patch({ name: 'Sync contacts v2', config: js('contacts 1.1') });
    await admin1.action(customised.key).patch({ name: 'Sync deals v2', config: js('deals 1.1') });
    const mapping = await admin1.fieldMappings.create({ key: unique('fm'), name: 'Contact fields', direction: 'import' });
    await admin1.package(key).patch({
      elements: [
        { type: 'action', id: renamed.id },
        { type: 'action', id: customised.id },
        { type: 'field-mapping', id: mapping.id },
      ],
    });
    await admin1.post(`/packages/${key}/versions`, { version: '1.1.0', changelog: 'Renamed, no flow, a mapping' });

    const upgraded = check('PackageApiResponse', await admin2.post(`/packages/${key}/upgrade`, {}), 'upgrade');
    assert.equal(upgraded.id, installed.id);
    assert.equal(upgraded.version, '1.1.0');
    assert.equal(upgraded.isReadOnly, true);
    assert.deepEqual(upgraded.elements.map((e) => e.type), ['action', 'action', 'field-mapping']);

    // The universal elements are 1.1.0's.
    const r2 = check('ActionApiResponse', await admin2.action(renamed.key).get(), 'upgraded action');
    assert.equal(r2.name, 'Sync contacts v2');
    assert.deepEqual(r2.config, js('contacts 1.1'));
    assert.equal(r2.isReadOnly, true);
    assert.equal((await admin2.action(customised.key).get()).name, 'Sync deals v2');
    const fm2 = check('FieldMappingApiResponse', await admin2.fieldMapping(mapping.key).get(), 'added field mapping');
    assert.equal(fm2.uuid, mapping.uuid);
    assert.equal(fm2.isReadOnly, true);
    const f2 = check('FlowApiResponse', await admin2.flow(flow.key).get(), 'dropped flow');
    assert.ok(f2.archivedAt, 'the flow 1.1.0 dropped is archived');

    // The customised copy is exactly as it was.
    const mineAfter = check('ActionApiResponse', await admin2.action(at(customised.key)).get(), 'customised copy after');
    assert.equal(mineAfter.id, mine.id);
    assert.equal(mineAfter.name, 'Mine');
    assert.deepEqual(mineAfter.config, js('mine'));
    assert.equal(mineAfter.isCustomized, true);
    assert.equal(await run(customised.key), 'mine', 'the customised copy runs as customised');

    // The copy nobody edited follows its new parent.
    const followed = check('ActionApiResponse', await admin2.action(at(renamed.key)).get(), 'non-customised copy after');
    assert.equal(followed.id, renamedCopy.id);
    assert.equal(followed.isCustomized, false);
    assert.equal(followed.parentId, r2.id);
    assert.equal(await run(renamed.key), 'contacts 1.1', 'a non-customised copy runs as its new parent');
    // What a GET shows of it is what the copy stores: the parent's fields as they were
    // when the copy was made (1.0.0's), not its new parent's; what it runs is the
    // parent's current definition (elements/follow.rs: a copy follows at run time).
    assert.equal(followed.name, 'Sync contacts', 'GET shows the name the copy was made with');
    assert.deepEqual(followed.config, js('contacts 1.0'), 'GET shows the config the copy was made with');

    // The added element has a copy for the integration, and the package copy lists the copies.
    const fmCopy = check('FieldMappingApiResponse', await admin2.fieldMapping(at(mapping.key)).get(), 'copy of the added mapping');
    assert.equal(fmCopy.universalFieldMappingId, fm2.id);
    assert.equal(fmCopy.integrationId, integration.id);
    const copyAfter = check('PackageApiResponse', await admin2.package(pkgCopy.element.id).get(), 'package copy after');
    assert.deepEqual(copyAfter.elements.map((e) => e.id), [renamedCopy.id, mine.id, fmCopy.id]);
    assert.ok(upgraded.appliedToIntegrations.some((a) => a.element.id === pkgCopy.element.id));
    // The copy of the dropped flow is archived with it (a restore would bring it back).
    const droppedCopy = check('FlowApiResponse', await admin2.flow(flowCopy.id).get(), 'copy of the dropped flow');
    assert.equal(droppedCopy.universalFlowId, f2.id);
    assert.ok(droppedCopy.archivedAt, 'the copy of the dropped flow is archived');

    // The installed version again: nothing to do; an older one: refused.
    const same = check('PackageApiResponse', await admin2.post(`/packages/${key}/upgrade`, { version: '1.1.0' }), 'upgrade to the installed version');
    assert.equal(same.version, '1.1.0');
    assert.equal(same.updatedAt, upgraded.updatedAt);
    await expectError(admin2.post(`/packages/${key}/upgrade`, { version: '1.0.0' }), 'BadRequestError', 'invalid_field');
    assert.equal(await statusOf(tokens.admin2, 'POST', `/packages/${key}/upgrade`, { version: '1.0.0' }), 400);
    assert.equal((await admin2.package(key).get()).version, '1.1.0');
    // Only an installed package upgrades, and only for an admin.
    await expectError(admin1.post(`/packages/${key}/upgrade`, {}), 'BadRequestError', 'not_supported');
    await expectError(customer2.post(`/packages/${key}/upgrade`, {}), 'BadRequestError', 'access_denied');
  });
});
