// sdk-bench.js - the runtime benchmark workload and its baseline in the SDK.
//   node sdk-bench.js workload   prints {mapping, variables, filter, records} as JSON
//   node sdk-bench.js time       times the SDK on it; prints {mappingSamples, filterSamples, mappingOut,
//                                filterMatches}: nanoseconds per call for each of 10 batches
// Run from anywhere; the SDK is resolved from tests/sdk/node_modules.
'use strict';
const path = require('path');
const sdk = require(path.join(__dirname, '../../tests/sdk/node_modules/@membranehq/sdk'));

const CITIES = ['Berlin', 'Paris', 'Lisbon', 'Oslo', 'Rome'];

function record(i) {
  return {
    id: `rec-${i}`,
    name: `Person ${i}`,
    fullName: `Ada ${i} Lovelace`,
    email: `user${i}@example${i % 7}.com`,
    age: i % 90,
    score: ((i * 37) % 1000) / 10,
    active: i % 3 !== 0,
    tags: ['t' + (i % 5), 't' + (i % 11)],
    createdAt: `2024-0${1 + (i % 9)}-1${i % 10}T10:${10 + (i % 50)}:00Z`,
    address: { city: CITIES[i % 5], zip: String(10000 + i), lines: [`${i} Main St`, `Apt ${i % 40}`] },
    status: ['new', 'open', 'won', 'lost'][i % 4],
  };
}

// A 50-field mapping: the formula mix of a typical field mapping.
function mapping() {
  const m = {};
  for (let f = 0; f < 50; f++) {
    switch (f % 10) {
      case 0: m[`f${f}`] = { $var: '$.record.name' }; break;
      case 1: m[`f${f}`] = { $concat: { values: [{ $var: '$.record.address.city' }, { $var: '$.record.address.zip' }], delimiter: ', ' } }; break;
      case 2: m[`f${f}`] = { $tpl: { template: 'Hi {name} <{email}>', values: { name: { $var: 'record.name' }, email: { $var: 'record.email' } } } }; break;
      case 3: m[`f${f}`] = { $case: { cases: [{ filter: [{ field: 'record.age', operator: 'more_than', value: 40 }], value: 'senior' }], default: 'junior' } }; break;
      case 4: m[`f${f}`] = { $map: { value: { $var: 'record.status' }, mapping: [{ from: 'new', to: 1 }, { from: 'open', to: 2 }, { from: 'won', to: 3 }], default: 0 } }; break;
      case 5: m[`f${f}`] = { $firstNotEmpty: [{ $var: 'record.missing' }, { $var: 'record.email' }] }; break;
      case 6: m[`f${f}`] = { $extractDate: { $var: 'record.createdAt' } }; break;
      case 7: m[`f${f}`] = { $eval: { $var: 'record.score' }, gte: 50 }; break;
      case 8: m[`f${f}`] = { $domainFromEmail: { $var: 'record.email' } }; break;
      default: m[`f${f}`] = { nested: { a: { $var: 'record.address.lines[0]' }, b: { $and: [{ $var: 'record.active' }, true] } } };
    }
  }
  return m;
}

const filter = [
  { field: 'age', operator: 'more_than_or_equal', value: 30 },
  { field: 'address.city', operator: 'is_one_of', value: ['Berlin', 'Oslo', 'Rome'] },
  { field: 'tags', operator: 'array_includes', value: 't1' },
];

function workload() {
  return { mapping: mapping(), variables: { record: record(42) }, filter, records: Array.from({ length: 10000 }, (_, i) => record(i)) };
}

// Nanoseconds per call of each batch, after one warm-up batch (the same method as runtime.rs).
function batchNs(fn, perBatch, batches = 10) {
  for (let i = 0; i < perBatch; i++) fn();
  const samples = [];
  for (let b = 0; b < batches; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) fn();
    samples.push(Number(process.hrtime.bigint() - t0) / perBatch);
  }
  return samples;
}

const mode = process.argv[2];
const w = workload();
if (mode === 'workload') {
  process.stdout.write(JSON.stringify(w));
} else {
  process.env.TZ = 'UTC';
  const mappingOut = sdk.buildData(w.mapping, w.variables);
  const countMatches = () => w.records.reduce((n, r) => n + (sdk.doesMatchFilter(r, w.filter) ? 1 : 0), 0);
  const filterMatches = countMatches();
  const mappingSamples = batchNs(() => sdk.buildData(w.mapping, w.variables), 200);
  const filterSamples = batchNs(countMatches, 3);
  process.stdout.write(JSON.stringify({ mappingSamples, filterSamples, mappingOut, filterMatches }));
}
