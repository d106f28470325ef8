'use strict';
// Data links with the SDK's own accessor: dataLinkTableInstance(selector).findLinks,
// createLink and deleteLink, on the instance of a data link table on a customer's
// connection (made on demand with autoCreate). Pages parsed with the SDK's
// FindDataLinksResponse and each link with DataLink; another customer reaches none
// of it, and an archived connection puts the links out of reach until restored.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, check, checkPage, expectError, startMockApi, unique } = require('./harness');

describe('data links', () => {
  let server;
  let admin;
  let api;
  let a;
  let b;
  let conn;
  let bConn;
  let table;

  useServer((s) => {
    server = s;
    admin = s.admin();
  });

  before(async () => {
    const apiKey = `key-${unique('k')}`;
    api = await startMockApi((req, { url }) => {
      if (req.headers['x-api-key'] !== apiKey) return [401, { message: 'bad key' }];
      if (url.pathname === '/me') return [200, { id: 'u-1' }];
      return [404, { message: 'no route' }];
    });
    const connector = await admin.post('/connectors', {
      key: unique('crm'),
      name: 'CRM',
      type: 'client-credentials',
      makeApiClient: { type: 'mapping', mapping: { baseUri: api.base, headers: { 'x-api-key': { $var: '$.credentials.apiKey' } } } },
      test: { type: 'rest-api-mapping', mapping: { path: '/me', method: 'GET' } },
    });
    const integration = await admin.integrations.create({ key: unique('crm'), name: 'CRM', connectorId: connector.id });
    table = check('DataLinkTableApiResponse', await admin.dataLinkTables.create({ key: unique('links'), name: 'Contact links' }), 'dataLinkTables.create');
    a = server.customer(unique('tenant-a'));
    b = server.customer(unique('tenant-b'));
    conn = await a.connections.create({ integrationId: integration.id, name: 'A CRM', input: { apiKey } });
    bConn = await b.connections.create({ integrationId: integration.id, name: 'B CRM', input: { apiKey } });
  });

  after(() => api?.close());

  /** Alice's instance of `key` (the shared table by default), made on demand. */
  const instanceOf = (client, connection, key = table.key) =>
    client.dataLinkTableInstance({ dataLinkTableKey: key, connectionId: connection.id, autoCreate: true });

  /** `direction app→external` of one page of links, checked with the SDK's schemas. */
  const pairs = async (instance, query, where) => {
    const page = check('FindDataLinksResponse', await instance.findLinks(query), where);
    checkPage('DataLink', page, where);
    return page.items.map((l) => `${l.direction} ${l.appRecordId}→${l.externalRecordId}`);
  };

  it('createLink, findLinks and deleteLink on the instance a selector names', async () => {
    const links = instanceOf(a, conn);
    assert.deepEqual(await pairs(links, undefined, 'findLinks (empty)'), []);
    const instance = check('DataLinkTableApiResponse', await links.get(), 'dataLinkTableInstance.get');

    // The SDK ignores what createLink and deleteLink answer.
    await links.createLink({ appRecordId: 'a1', externalRecordId: 'e1', direction: 'import' });
    await links.createLink({ appRecordId: 'a2', externalRecordId: 'e2' });
    const page = check('FindDataLinksResponse', await links.findLinks(), 'findLinks');
    assert.equal(page.cursor, undefined);
    const first = check('DataLink', page.items[0], 'findLinks items[0]');
    assert.equal(first.dataLinkTableInstanceId, instance.id);
    assert.deepEqual(Object.keys(first), ['id', 'dataLinkTableInstanceId', 'externalRecordId', 'appRecordId', 'direction']);
    assert.deepEqual(await pairs(links, undefined, 'findLinks'), ['import a1→e1', 'import a2→e2', 'export a2→e2']);
    assert.deepEqual(await pairs(links, { direction: 'export' }, 'findLinks export'), ['export a2→e2']);
    assert.deepEqual(await pairs(links, { appRecordId: 'a2', direction: 'import' }, 'by app record'), ['import a2→e2']);
    assert.deepEqual(await pairs(links, { externalRecordId: 'e1' }, 'by external record'), ['import a1→e1']);
    // The same instance by its id (the SDK's string selector).
    assert.deepEqual(await pairs(a.dataLinkTableInstance(instance.id), { appRecordId: 'a1' }, 'by id'), ['import a1→e1']);

    await links.deleteLink({ appRecordId: 'a2', externalRecordId: 'e2', direction: 'export' });
    assert.deepEqual(await pairs(links, { appRecordId: 'a2' }, 'after deleting export'), ['import a2→e2']);
    await links.deleteLink({ appRecordId: 'a2', externalRecordId: 'e2' });
    await links.deleteLink({ appRecordId: 'a2', externalRecordId: 'e2' });
    assert.deepEqual(await pairs(links, undefined, 'after deleting'), ['import a1→e1']);
  });

  it('a link made again changes nothing; a new one replaces the older link of either record', async () => {
    const key = unique('one-to-one');
    await admin.dataLinkTables.create({ key, name: 'One to one' });
    const links = instanceOf(a, conn, key);
    await links.createLink({ appRecordId: 'a1', externalRecordId: 'e1', direction: 'both' });
    const before = await links.findLinks();
    await links.createLink({ appRecordId: 'a1', externalRecordId: 'e1' });
    assert.deepEqual(await links.findLinks(), before);

    await links.createLink({ appRecordId: 'a1', externalRecordId: 'e2', direction: 'import' });
    assert.deepEqual(await pairs(links, undefined, 'a1 relinked'), ['export a1→e1', 'import a1→e2']);
    await links.createLink({ appRecordId: 'a3', externalRecordId: 'e2', direction: 'import' });
    assert.deepEqual(await pairs(links, { direction: 'import' }, 'e2 relinked'), ['import a3→e2']);
  });

  it('findLinks pages with limit and cursor; the last page has no cursor', async () => {
    const key = unique('paged');
    await admin.dataLinkTables.create({ key, name: 'Paged' });
    const links = instanceOf(a, conn, key);
    const written = ['a0', 'a1', 'a2', 'a3', 'a4'];
    for (const app of written) await links.createLink({ appRecordId: app, externalRecordId: `x-${app}`, direction: 'export' });
    const seen = [];
    let cursor;
    let pages = 0;
    do {
      const page = check('FindDataLinksResponse', await links.findLinks({ limit: 2, ...(cursor && { cursor }) }), `page ${pages}`);
      assert.ok(page.items.length <= 2);
      seen.push(...page.items.map((l) => l.appRecordId));
      cursor = page.cursor;
      pages += 1;
    } while (cursor && pages < 10);
    assert.deepEqual(seen, written);
    assert.equal(pages, 3);
    const exact = await links.findLinks({ limit: 5 });
    assert.equal(exact.items.length, 5);
    assert.equal(exact.cursor, undefined);
  });

  it('bad bodies and parameters are refused naming them, and change nothing', async () => {
    const links = instanceOf(a, conn);
    const before = await links.findLinks();
    await expectError(links.createLink({ appRecordId: '', externalRecordId: 'e9' }), 'BadRequestError', 'invalid_field');
    await expectError(links.createLink({ appRecordId: 'a9' }), 'BadRequestError', 'invalid_field');
    await expectError(links.createLink({ appRecordId: 'a9', externalRecordId: { id: 'e9' } }), 'BadRequestError', 'invalid_field');
    await expectError(links.createLink({ appRecordId: 'a9', externalRecordId: 'e9', direction: 'sideways' }), 'BadRequestError', 'invalid_field');
    await expectError(links.deleteLink({ appRecordId: 'a1', externalRecordId: 'e1', direction: 'up' }), 'BadRequestError', 'invalid_field');
    await expectError(links.findLinks({ direction: 'sideways' }), 'BadRequestError', 'invalid_query');
    await expectError(links.findLinks({ limit: 0 }), 'BadRequestError', 'invalid_query');
    await expectError(links.findLinks({ cursor: 'nope' }), 'BadRequestError', 'invalid_query');
    assert.deepEqual(await links.findLinks(), before);
  });

  it("another customer reaches none of Alice's links; an archived connection puts them out of reach", async () => {
    const links = instanceOf(a, conn);
    const instance = await links.get();
    const link = { appRecordId: 'a1', externalRecordId: 'e7' };
    for (const theirs of [b.dataLinkTableInstance(instance.id), instanceOf(b, conn)]) {
      await expectError(theirs.findLinks(), 'BadRequestError', 'not_found');
      await expectError(theirs.createLink(link), 'BadRequestError', 'not_found');
      await expectError(theirs.deleteLink({ appRecordId: 'a1', externalRecordId: 'e1' }), 'BadRequestError', 'not_found');
    }
    // Bob's own instance of the table is his alone.
    const bobs = instanceOf(b, bConn);
    assert.deepEqual(await pairs(bobs, undefined, "Bob's links"), []);
    await bobs.createLink(link);
    assert.deepEqual(await pairs(bobs, undefined, "Bob's links"), ['import a1→e7', 'export a1→e7']);
    assert.deepEqual(await pairs(links, { appRecordId: 'a1' }, "Alice's links"), ['import a1→e1']);

    await a.connection(conn.id).archive();
    const byId = a.dataLinkTableInstance(instance.id);
    await expectError(byId.findLinks(), 'BadRequestError', 'not_found');
    await expectError(byId.createLink(link), 'BadRequestError', 'not_found');
    await expectError(byId.deleteLink({ appRecordId: 'a1', externalRecordId: 'e1' }), 'BadRequestError', 'not_found');
    await a.post(`/connections/${conn.id}/restore`);
    assert.deepEqual(await pairs(byId, { appRecordId: 'a1' }, 'after restoring'), ['import a1→e1']);
  });
});
