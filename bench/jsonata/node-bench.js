// Times the SDK's jsonata (1.8.9) on the benchmark expression; prints JSON
// {"ns_per_eval": ..., "result": ...}. Usage: node node-bench.js <expr> [iterations]
'use strict';
const path = require('path');
const jsonata = require(path.join(__dirname, '..', '..', 'tests', 'sdk', 'node_modules', 'jsonata'));
const { records } = require('./data.js');
const expr = process.argv[2];
const iterations = Number(process.argv[3] || 200);
const input = records(1000);
const compiled = jsonata(expr);
let result;
for (let i = 0; i < 50; i++) result = compiled.evaluate(input); // warm-up (JIT)
const samples = [];
for (let b = 0; b < 10; b++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations / 10; i++) result = compiled.evaluate(input);
  samples.push(Number(process.hrtime.bigint() - t0) / (iterations / 10));
}
samples.sort((a, b) => a - b);
console.log(JSON.stringify({ ns_per_eval: samples[Math.floor(samples.length / 2)], result }));
