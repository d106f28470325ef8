'use strict';
// Package versions (crates/engine/src/package_versions.rs): the SDK has their
// shapes (`PackageVersionListItem`, `PackageApiResponse` with `PackageVersionData`)
// but no calls, so the list and the publish go through the raw client; a version
// is read with the SDK's own accessor, its object selector carrying `version`.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { sdk, useServer, check, expectError, unique } = require('./harness');

describe('package versions', () => {
  let admin;
  useServer((s) => {
    admin = s.admin();
  });

  it('publish, list and read versions in the shapes the SDK declares', async () => {
    const action = await admin.actions.create({ key: unique('act'), name: 'Packaged action', type: 'run-javascript' });
    const key = unique('pkg');
    await admin.packages.create({ key, name: 'Bundle', elements: [{ type: 'action', id: action.id }] });

    const v1 = check('PackageVersionListItem', await admin.post(`/packages/${key}/versions`, { version: '1.0.0', changelog: 'First' }), 'publish 1.0.0');
    assert.equal(v1.version, '1.0.0');
    assert.equal(v1.parentPackageVersion, undefined);
    const flow = await admin.flows.create({ key: unique('flow'), name: 'Packaged flow' });
    await admin.package(key).patch({ elements: [{ type: 'action', id: action.id }, { type: 'flow', id: flow.id }] });
    const v2 = check('PackageVersionListItem', await admin.post(`/packages/${key}/versions`, { version: '1.1.0' }), 'publish 1.1.0');
    assert.equal(v2.parentPackageVersion, '1.0.0');
    await expectError(admin.post(`/packages/${key}/versions`, { version: '1.1.0' }), 'BadRequestError', 'already_exists');

    const list = await admin.get(`/packages/${key}/versions`);
    assert.deepEqual(Object.keys(list), ['items']);
    list.items.forEach((item, i) => check('PackageVersionListItem', item, `versions[${i}]`));
    assert.deepEqual(list.items.map((v) => [v.version, v.parentPackageVersion]), [['1.1.0', '1.0.0'], ['1.0.0', undefined]]);

    const at1 = check('PackageApiResponse', await admin.package({ key, version: '1.0.0' }).get(), 'package at 1.0.0');
    assert.equal(at1.version, '1.0.0');
    assert.equal(at1.changelog, 'First');
    assert.deepEqual(at1.elements.map((e) => [e.type, e.id]), [['action', action.id]]);
    check('ActionApiResponse', at1.elements[0].element, 'package at 1.0.0 elements[0].element');
    const latest = check('PackageApiResponse', await admin.get(`/packages/${key}`, { version: sdk.PACKAGE_VERSION_LATEST }), 'package at latest');
    assert.equal(latest.version, '1.1.0');
    assert.equal(latest.parentPackageVersion, '1.0.0');
    assert.deepEqual(latest.elements.map((e) => [e.type, e.id]), [['action', action.id], ['flow', flow.id]]);
    const dev = check('PackageApiResponse', await admin.package({ key, version: sdk.PACKAGE_VERSION_DEVELOPMENT }).get(), 'package at dev');
    assert.equal(dev.version, undefined);
    await expectError(admin.package({ key, version: '9.9.9' }).get(), 'BadRequestError', 'not_found');
  });
});
