// compare.js - compares the SDK oracle's output with Osmosis' output, line by line.
// Usage: node compare.js cases.jsonl sdk.jsonl osmosis.jsonl
// Outputs must match as JSON exactly (key order included, the {"$undefined":true}
// marker included). Where the SDK throws, Osmosis must throw the same error class
// name and `type`; messages may differ.
// Each output must hold exactly one result per case, in order, carrying the case's
// id: two empty outputs (an evaluator or oracle that crashed at start, a cases file
// that came out empty) would otherwise compare equal, as would one cut short.
const fs = require('fs');
const [casesFile, sdkFile, osmFile] = process.argv.slice(2);
const read = (f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim());
const cases = read(casesFile);
const sdk = read(sdkFile);
const osm = read(osmFile);
const canon = (v) => JSON.stringify(v);
const parse = (line) => {
  try {
    return JSON.parse(line);
  } catch (e) {
    return { parseError: String(e), raw: line };
  }
};

const broken = [];
if (cases.length === 0) broken.push(`${casesFile} holds no case`);
if (sdk.length !== cases.length) broken.push(`the SDK oracle gave ${sdk.length} result(s) for ${cases.length} case(s)`);
if (osm.length !== cases.length) broken.push(`Osmosis gave ${osm.length} result(s) for ${cases.length} case(s)`);

let mismatches = 0;
const byFn = {};
const n = Math.max(cases.length, sdk.length, osm.length);
for (let i = 0; i < n; i++) {
  const c = cases[i] ? parse(cases[i]) : null;
  const a = sdk[i] ? parse(sdk[i]) : null;
  const b = osm[i] ? parse(osm[i]) : null;
  const fn = (c && c.fn) || (a && a.fn) || (b && b.fn) || '?';
  byFn[fn] = byFn[fn] || { total: 0, bad: 0 };
  byFn[fn].total++;
  let same;
  // Both results must answer this very case: a skipped or reordered line shows here.
  if (!c || !a || !b || a.parseError || canon(a.id) !== canon(c.id) || canon(b.id) !== canon(c.id)) same = false;
  else if (a.error) same = !!b.error && b.error.name === a.error.name && canon(b.error.type) === canon(a.error.type);
  else same = !b.error && canon(a.out) === canon(b.out);
  if (!same) {
    mismatches++;
    byFn[fn].bad++;
    if (mismatches <= Number(process.env.MAX_SHOWN || 30)) {
      console.log(`MISMATCH line ${i + 1}\n  case:    ${cases[i]}\n  sdk:     ${sdk[i]}\n  osmosis: ${osm[i]}`);
    }
  }
}
for (const [fn, s] of Object.entries(byFn).sort()) console.log(`${fn.padEnd(32)} ${String(s.total).padStart(7)} cases ${s.bad ? s.bad + ' MISMATCHED' : 'ok'}`);
console.log(`${cases.length} cases, ${mismatches} mismatches`);
for (const b of broken) console.log(`BROKEN: ${b}`);
process.exit(mismatches || broken.length ? 1 : 0);
