#!/usr/bin/env node
// Builds or checks tests/jsonata/corpus.jsonl against the official SDK.
//
//   node corpus.js build   rewrites corpus.jsonl from cases.js + inputs.json
//   node corpus.js check   re-runs every stored case and exits 1 on any difference
//   node corpus.js fuzz SEED N OUT
//                          writes N random expressions (from a small grammar, see
//                          fuzz.js) with SDK expectations to OUT, in corpus form;
//                          check them with JSONATA_CORPUS=OUT cargo test -p osmosis-jsonata --test it corpus::
//
// The expected value of each case is what the SDK's own `$jsonata` formula returns
// (buildData through the SDK oracle script named by SDK_ORACLE). Because the
// SDK turns every jsonata exception into `undefined`, the script also runs the SDK's
// jsonata package directly to record *why* a case is undefined: the error's code and
// whether it was raised while compiling or while evaluating. The Rust test uses that
// to require a compile error or an evaluation error rather than any error.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const here = __dirname;
const oracle = process.env.SDK_ORACLE;
if (!oracle) {
  console.error('set SDK_ORACLE to the SDK oracle script (sdk-oracle.js; scripts/test.sh uses ../shared/tools/sdk-oracle.js beside the clone)');
  process.exit(2);
}
const sdkModules = process.env.SDK_NODE_MODULES || path.join(here, '..', 'sdk', 'node_modules');
const jsonata = require(path.join(sdkModules, 'jsonata'));

function loadCases() {
  const groups = require('./cases.js');
  const inputs = JSON.parse(fs.readFileSync(path.join(here, 'inputs.json'), 'utf8'));
  const out = [];
  for (const [group, list] of Object.entries(groups)) {
    list.forEach(([inputName, expr], i) => {
      if (!(inputName in inputs)) throw new Error(`unknown input ${inputName}`);
      out.push({ id: `${group}-${i + 1}`, expr, input: inputs[inputName] });
    });
  }
  return out;
}

function runOracle(cases) {
  const lines = cases.map((c) => JSON.stringify({ id: c.id, fn: 'buildData', args: [{ $jsonata: c.expr }, c.input] }));
  const stdout = execFileSync('node', [oracle], {
    input: lines.join('\n') + '\n',
    env: { ...process.env, TZ: 'UTC', NODE_PATH: sdkModules },
    maxBuffer: 1 << 28,
  }).toString();
  const byId = new Map();
  for (const line of stdout.split('\n').filter((l) => l.trim())) {
    const r = JSON.parse(line);
    byId.set(r.id, r);
  }
  return byId;
}

// What jsonata itself did: {error: {phase, code}} or {} when it produced a value.
function direct(c) {
  let compiled;
  try {
    compiled = jsonata(c.expr);
  } catch (e) {
    return { error: { phase: 'compile', code: e.code || null } };
  }
  try {
    compiled.evaluate(JSON.parse(JSON.stringify(c.input)));
  } catch (e) {
    return { error: { phase: 'evaluate', code: e.code || null } };
  }
  return {};
}

function record(c, oracleResult) {
  if (!oracleResult) throw new Error(`oracle gave nothing for ${c.id}`);
  if (oracleResult.error) throw new Error(`oracle threw for ${c.id}: ${JSON.stringify(oracleResult.error)}`);
  const rec = { id: c.id, expr: c.expr, input: c.input };
  if (!('out' in oracleResult)) {
    // JSON.stringify drops a function value: the result is not JSON (a lambda or regex).
    rec.expected = { $undefined: true };
    rec.nonJson = true;
  } else {
    rec.expected = oracleResult.out;
  }
  const d = direct(c);
  if (d.error) rec.error = d.error;
  return rec;
}

function build() {
  const cases = loadCases();
  const results = runOracle(cases);
  const lines = cases.map((c) => JSON.stringify(record(c, results.get(c.id))));
  fs.writeFileSync(path.join(here, 'corpus.jsonl'), lines.join('\n') + '\n');
  console.log(`wrote ${lines.length} cases`);
}

function check() {
  const stored = fs.readFileSync(path.join(here, 'corpus.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).map(JSON.parse);
  // An empty or cut-short corpus would pass with nothing checked: it must hold one
  // case per case of cases.js, each id once (the oracle's answers are matched by id).
  const sourced = loadCases().map((c) => c.id);
  const ids = stored.map((s) => s.id);
  const broken = [];
  if (stored.length === 0) broken.push('corpus.jsonl holds no case');
  if (new Set(ids).size !== ids.length) broken.push('corpus.jsonl repeats an id');
  if (JSON.stringify(ids) !== JSON.stringify(sourced)) {
    broken.push(`corpus.jsonl has ${ids.length} case(s), cases.js ${sourced.length}, or not the same ids in the same order: rebuild with \`node corpus.js build\``);
  }
  if (broken.length) {
    console.log(broken.map((b) => `BROKEN: ${b}`).join('\n'));
    process.exit(1);
  }
  const results = runOracle(stored);
  if (results.size !== stored.length) {
    console.log(`BROKEN: the oracle answered ${results.size} of ${stored.length} case(s)`);
    process.exit(1);
  }
  let passed = 0;
  let failed = 0;
  for (const s of stored) {
    const fresh = record(s, results.get(s.id));
    const a = JSON.stringify(fresh);
    const b = JSON.stringify(s);
    if (a === b) {
      passed++;
    } else {
      failed++;
      console.log(`MISMATCH ${s.id}: ${s.expr}\n  stored: ${b}\n  sdk:    ${a}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

function fuzz() {
  const [seed, n, out] = process.argv.slice(3);
  const cases = require('./fuzz.js').generate(Number(seed), Number(n));
  const results = runOracle(cases);
  const lines = cases.map((c) => JSON.stringify(record(c, results.get(c.id))));
  fs.writeFileSync(out, lines.join('\n') + '\n');
  console.log(`wrote ${lines.length} random cases to ${out}`);
}

const mode = process.argv[2];
if (mode === 'build') build();
else if (mode === 'check') check();
else if (mode === 'fuzz') fuzz();
else {
  console.error('usage: corpus.js build|check|fuzz SEED N OUT');
  process.exit(2);
}
