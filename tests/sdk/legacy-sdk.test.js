'use strict';
// The SDK before Membrane, `@integration-app/sdk` 1.x (still on npm, and in apps
// written before the rename), against Osmosis: it calls packages "scenarios" and
// asks for `/scenarios`, `/scenarios/{selector}` and `/scenario?{selector}`, which
// Osmosis serves as the package routes (crates/api/src/routes/elements.rs,
// `ALIASES`). Responses are checked with the current SDK's package schema.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const legacySdk = require('@integration-app/sdk');
const { IntegrationAppClient } = legacySdk;
const { useServer, check, unique } = require('./harness');

describe('the older @integration-app/sdk 1.x', () => {
  let server;
  let legacy;
  useServer((s) => {
    server = s;
    legacy = new IntegrationAppClient({ token: s.adminToken, apiUri: s.apiUri });
  });

  it('creates, finds, gets, changes, archives and restores scenarios as packages', async () => {
    const key = unique('scn');
    const created = await legacy.scenarios.create({ key, name: 'Starter', scenarioTemplateId: 'tmpl-1' });
    check('PackageApiResponse', created);
    assert.equal(created.key, key);

    // The same element through the current SDK's packages.
    const current = server.admin();
    assert.equal((await current.package(key).get()).id, created.id);

    const page = await legacy.scenarios.find();
    assert.ok(page.items.some((p) => p.id === created.id), JSON.stringify(page.items));
    const all = await legacy.scenarios.findAll();
    assert.ok(all.some((p) => p.id === created.id));

    assert.equal((await legacy.scenario(key).get()).id, created.id);
    assert.equal((await legacy.scenario(created.id).get()).key, key);
    // An object selector: `/scenario?key=…`.
    assert.equal((await legacy.scenario({ key }).get()).id, created.id);

    const patched = await legacy.scenario(key).patch({ name: 'Renamed' });
    check('PackageApiResponse', patched);
    assert.equal(patched.name, 'Renamed');
    assert.equal((await current.package(key).get()).name, 'Renamed');

    await legacy.scenario(key).archive();
    const archived = await current.package(created.id).get();
    assert.ok(archived.archivedAt, JSON.stringify(archived));
    await legacy.scenario(created.id).restore();
    assert.equal((await current.package(created.id).get()).archivedAt, undefined);
  });

  it('gets the errors of the package routes for a scenario that does not exist', async () => {
    // The 1.x SDK picks an error class by `type` alone: a 404 is a bad_request
    // whose key says what went wrong.
    await assert.rejects(legacy.scenario('no-such-scenario').get(), (err) => {
      assert.ok(err instanceof legacySdk.BadRequestError, `${err && err.constructor && err.constructor.name}: ${err && err.message}`);
      assert.equal(err.data.key, 'not_found');
      return true;
    });
  });
});
