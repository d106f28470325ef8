'use strict';
// Membrane's published CLI before the rename, `@integration-app/membrane-cli`
// 1.2.3 (its `membrane` command, unmodified, from the npm registry), against
// Osmosis: `membrane pull` from one server and `membrane push` into a fresh one
// gives the same workspace, as the workspace exports of both show.
//
// What the CLI carries: custom connectors (definition and source), integrations
// and universal elements of every type it knows. It cannot carry
// integration-level copies: `pull` writes them where `push` never reads them
// (`<type>/<key>/<integrationKey>/…` against `integrations/<key>/<type>/…`),
// so the workspace here has none; Osmosis's own `osmosis pull`/`push` and
// `/import` do (crates/osmosis/tests/it/config_import.rs).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, sleep } = require('./harness');

const MEMBRANE = path.join(__dirname, 'node_modules', '.bin', 'membrane');

async function api(server, method, route, body) {
  const res = await fetch(`${server.apiUri}${route}`, {
    method,
    headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${route}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Runs the CLI in `dir` (holding its `membrane.config.yml`); resolves its output. */
function membrane(dir, args) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [fs.realpathSync(MEMBRANE), ...args], { cwd: dir, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`membrane ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** A folder with the CLI's config (its 1.x format) for `server`'s workspace. */
function project(server) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'membrane-cli-'));
  fs.writeFileSync(
    path.join(dir, 'membrane.config.yml'),
    `workspaces:\n  default:\n    key: ${server.workspaceKey}\n    secret: ${server.workspaceSecret}\n    apiUri: ${server.apiUri}\n`,
  );
  return dir;
}

/** The workspace's export (`GET /export`, the zip's files by path). */
async function exported(server) {
  let job = await api(server, 'GET', '/export');
  const deadline = Date.now() + 60_000;
  while (job.status === 'running') {
    assert.ok(Date.now() < deadline, `the export never finished: ${JSON.stringify(job)}`);
    await sleep(100);
    job = await api(server, 'GET', `/background-jobs/${job.id}`);
  }
  assert.equal(job.status, 'completed', JSON.stringify(job));
  const res = await fetch(job.result.downloadUrl, { headers: { authorization: `Bearer ${server.adminToken}` } });
  assert.equal(res.status, 200);
  const zip = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'export-')), 'ws.zip');
  fs.writeFileSync(zip, Buffer.from(await res.arrayBuffer()));
  const files = await new Promise((resolve, reject) => {
    // Text as is; a binary file (a connector's src.zip) as its bytes in base64.
    const read = [
      'import base64,json,sys,zipfile',
      'z=zipfile.ZipFile(sys.argv[1])',
      'def body(b):',
      '    try: return b.decode()',
      '    except UnicodeDecodeError: return "base64:" + base64.b64encode(b).decode()',
      'print(json.dumps({n: body(z.read(n)) for n in z.namelist()}))',
    ].join('\n');
    execFile('python3', ['-c', read, zip], (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(JSON.parse(stdout))));
  });
  return files;
}

/** The files of the workspace's own elements: the public (shipped) connectors,
 * installed into each server with uuids of their own, left out; and an
 * integration's uuid, which the CLI does not carry (it sends an integration's
 * `{connectorId, connectorVersion, name, key}` only). */
function own(files, publicConnectorUuids) {
  return Object.fromEntries(
    Object.entries(files)
      .filter(([p]) => !publicConnectorUuids.some((u) => p.startsWith(`membrane/connectors/${u}/`)))
      .map(([p, body]) => [p, /^membrane\/integrations\/[^/]+\/spec\.yaml$/.test(p) ? body.replace(/^uuid: .*\n/m, '') : body]),
  );
}

async function publicConnectors(server) {
  const all = await api(server, 'GET', `/connectors?workspaceId=${(await api(server, 'GET', '/org-workspace-id')).id}`);
  return all.filter((c) => c.isPublic).map((c) => c.uuid);
}

describe('the published Membrane CLI 1.2.3', () => {
  let source;
  let target;
  before(async () => {
    [source, target] = await Promise.all([startServer(), startServer()]);
  });
  after(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
  });

  it('pulls a workspace from one Osmosis and pushes it into a fresh one, which then holds the same workspace', async () => {
    const v = (p) => ({ $var: p });
    const connector = await api(source, 'POST', '/connectors', {
      key: 'acme',
      name: 'Acme CRM',
      type: 'client-credentials',
      makeApiClient: { type: 'mapping', mapping: { baseUri: 'https://api.acme.test', headers: { 'x-api-key': v('$.credentials.apiKey') } } },
      test: { type: 'rest-api-mapping', mapping: { path: '/me', method: 'GET' } },
    });
    assert.equal(connector.workspaceId, (await api(source, 'GET', '/org-workspace-id')).id);
    // Its source uploaded (its own, as downloaded): the CLI pulls and pushes it.
    const download = await fetch(`${source.apiUri}/connectors/${connector.id}/download`, {
      headers: { authorization: `Bearer ${source.adminToken}` },
    });
    assert.equal(download.status, 200);
    const form = new FormData();
    form.append('file', new Blob([await download.arrayBuffer()], { type: 'application/zip' }), 'file.zip');
    const uploaded = await fetch(`${source.apiUri}/connectors/${connector.id}/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${source.adminToken}` },
      body: form,
    });
    assert.equal(uploaded.status, 200, await uploaded.text());
    await api(source, 'POST', '/integrations', { key: 'acme', name: 'Acme', connectorId: connector.id });
    await api(source, 'POST', '/actions', {
      key: 'create-contact',
      name: 'Create contact',
      type: 'api-request-to-external-app',
      inputSchema: { type: 'object', properties: { email: { type: 'string' } } },
      config: { request: { method: 'POST', path: '/contacts', data: { email: v('$.input.email') } } },
    });
    await api(source, 'POST', '/data-sources', { key: 'contacts', name: 'Contacts', udm: 'contacts' });
    await api(source, 'POST', '/field-mappings', {
      key: 'contacts-in',
      name: 'Contacts in',
      dataSourceKey: 'contacts',
      direction: 'import',
      importValue: { email: v('$.fields.email') },
    });
    await api(source, 'POST', '/flows', {
      key: 'on-signup',
      name: 'On signup',
      nodes: { start: { type: 'api-trigger', name: 'Start' } },
    });
    await api(source, 'POST', '/app-data-schemas', { key: 'user', name: 'User', schema: { type: 'object', properties: { email: { type: 'string' } } } });
    await api(source, 'POST', '/app-event-types', { key: 'signup', name: 'Signup' });
    await api(source, 'POST', '/data-link-tables', { key: 'contact-links', name: 'Contact links' });

    const pulled = project(source);
    await membrane(pulled, ['pull']);
    const tree = path.join(pulled, 'membrane');
    assert.ok(fs.existsSync(path.join(tree, 'actions', 'create-contact', 'create-contact.yaml')));
    const connectorDirs = fs.readdirSync(path.join(tree, 'connectors'));
    assert.deepEqual(connectorDirs, [`Acme CRM_${connector.id}`], 'the custom connector only, not the public ones');

    const pushing = project(target);
    fs.cpSync(tree, path.join(pushing, 'membrane'), { recursive: true });
    await membrane(pushing, ['push']);

    const [from, into] = await Promise.all([exported(source), exported(target)]);
    const mine = own(from, await publicConnectors(source));
    const theirs = own(into, await publicConnectors(target));
    assert.ok(
      Object.keys(mine).some((p) => p.endsWith('/development/src.zip')),
      'the connector\'s source is in the export',
    );
    assert.deepEqual(Object.keys(theirs).sort(), Object.keys(mine).sort());
    for (const [file, body] of Object.entries(mine)) {
      assert.equal(theirs[file], body, `${file} differs after pull and push`);
    }

    // Pushed again: nothing changes.
    await membrane(pushing, ['push']);
    const again = own(await exported(target), await publicConnectors(target));
    assert.deepEqual(again, theirs);
  });
});
