// compare.js - compares the SDK oracle's output with Osmosis' output, line by line.
// Usage: node compare.js cases.jsonl sdk.jsonl osmosis.jsonl
// Outputs must match as JSON exactly (key order included, the {"$undefined":true}
// marker included). Where the SDK throws, Osmosis must throw the same error class
// name and `type`; messages may differ.
const fs = require('fs');
const [casesFile, sdkFile, osmFile] = process.argv.slice(2);
const read = (f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim());
const cases = read(casesFile);
const sdk = read(sdkFile);
const osm = read(osmFile);
const canon = (v) => JSON.stringify(v);
let mismatches = 0;
const byFn = {};
const n = Math.max(sdk.length, osm.length);
for (let i = 0; i < n; i++) {
  const a = sdk[i] ? JSON.parse(sdk[i]) : null;
  let b = null;
  try { b = osm[i] ? JSON.parse(osm[i]) : null; } catch (e) { b = { parseError: String(e), raw: osm[i] }; }
  const fn = (a && a.fn) || (b && b.fn) || '?';
  byFn[fn] = byFn[fn] || { total: 0, bad: 0 };
  byFn[fn].total++;
  let same;
  if (!a || !b) same = false;
  else if (a.error) same = !!b.error && b.error.name === a.error.name && canon(b.error.type) === canon(a.error.type);
  else same = !b.error && canon(a.out) === canon(b.out) && canon(a.id) === canon(b.id);
  if (!same) {
    mismatches++;
    byFn[fn].bad++;
    if (mismatches <= Number(process.env.MAX_SHOWN || 30)) {
      console.log(`MISMATCH line ${i + 1}\n  case:    ${cases[i]}\n  sdk:     ${sdk[i]}\n  osmosis: ${osm[i]}`);
    }
  }
}
for (const [fn, s] of Object.entries(byFn).sort()) console.log(`${fn.padEnd(32)} ${String(s.total).padStart(7)} cases ${s.bad ? s.bad + ' MISMATCHED' : 'ok'}`);
console.log(`${n} cases, ${mismatches} mismatches`);
process.exit(mismatches ? 1 : 0);
