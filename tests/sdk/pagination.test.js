'use strict';
// Pagination as the SDK drives it: `findAll()` starts with `cursor=0&limit=1000` and
// follows `cursor` until it is missing. 2 500 elements must come back exactly once each.

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const { useServer, checkPage, expectError, inBatches } = require('./harness');

const COUNT = 2500;

describe('pagination', () => {
  let admin;
  let ids;

  useServer((s) => {
    admin = s.admin();
  });
  before(async () => {
    const keys = Array.from({ length: COUNT }, (_, i) => `page-${String(i).padStart(4, '0')}`);
    const created = await inBatches(keys, 16, (key) => admin.dataLinkTables.create({ key, name: `Table ${key}` }));
    ids = created.map((e) => e.id);
    assert.equal(new Set(ids).size, COUNT, 'every create returned its own id');
  });

  it(`findAll() returns all ${COUNT} elements, none twice`, async () => {
    const all = await admin.dataLinkTables.findAll();
    assert.equal(all.length, COUNT);
    const seen = all.map((e) => e.id);
    assert.equal(new Set(seen).size, COUNT, 'no element twice');
    assert.deepEqual([...seen].sort(), [...ids].sort());
  });

  it('find() pages by limit and cursor; the last page has no cursor', async () => {
    const pages = [];
    let cursor;
    for (;;) {
      const page = checkPage('DataLinkTableApiResponse', await admin.dataLinkTables.find({ limit: 700, cursor }), 'dataLinkTables.find page');
      pages.push(page.items.length);
      if (!page.cursor) break;
      assert.equal(page.items.length, 700, 'a page with a cursor is full');
      cursor = page.cursor;
      assert.ok(pages.length < 10, 'the cursor must end');
    }
    assert.deepEqual(pages, [700, 700, 700, 400]);
    const first = await admin.dataLinkTables.find();
    assert.ok(first.items.length > 0 && first.items.length <= 1000);
  });

  it('a search narrows findAll()', async () => {
    const some = await admin.dataLinkTables.findAll({ search: 'page-12' });
    // Keys and names containing `page-12`: page-1200 … page-1299.
    const expected = Array.from({ length: 100 }, (_, i) => `page-${1200 + i}`);
    assert.deepEqual(some.map((e) => e.key).sort(), expected);
  });

  it('archived elements drop out of findAll() and come back with includeArchived', async () => {
    const victims = ids.slice(0, 5);
    await Promise.all(victims.map((id) => admin.dataLinkTable(id).archive()));
    const live = await admin.dataLinkTables.findAll();
    assert.equal(live.length, COUNT - 5);
    assert.equal(live.some((e) => victims.includes(e.id)), false);
    const everything = await admin.dataLinkTables.findAll({ includeArchived: true });
    assert.equal(everything.length, COUNT);
    assert.equal(new Set(everything.map((e) => e.id)).size, COUNT);
  });

  it('limit outside 1..1000 is refused', async () => {
    await expectError(admin.dataLinkTables.find({ limit: 1001 }), 'BadRequestError', 'invalid_query');
    await expectError(admin.dataLinkTables.find({ limit: 0 }), 'BadRequestError', 'invalid_query');
  });
});
