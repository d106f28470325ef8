#!/usr/bin/env node
'use strict';
// `npm test` of this suite and of tests/browser: runs every `*.test.js` of the
// current directory with node:test, one file at a time, and fails unless the run
// really tested something. `node --test` alone exits 0 when it finds no file, and a
// renamed, emptied or `.skip`ped test simply drops out of a green run; so this also
// fails when
//   - fewer tests ran than the floor `config.minTests` in the package.json beside the
//     tests (the one place the count is stated; raise it when you add tests),
//   - a test file ran no test of its own,
//   - a test was skipped or marked todo.
// Suites (`describe`) are not tests; every `it`/`test`, nested or not, is one.
// Runs one subset instead when given file names, without the floor (for local work
// only: scripts/test.sh runs the whole suite).

const fs = require('node:fs');
const path = require('node:path');
const { run } = require('node:test');
const { spec } = require('node:test/reporters');

const dir = process.cwd();
const pkgFile = path.join(dir, 'package.json');
const minTests = Number(JSON.parse(fs.readFileSync(pkgFile, 'utf8')).config?.minTests);
if (!Number.isInteger(minTests) || minTests < 1) {
  console.error(`${pkgFile}: config.minTests must be a positive integer (the suite's test count floor)`);
  process.exit(2);
}

const subset = process.argv.slice(2);
const files = (subset.length ? subset : fs.readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort()).map((f) => path.resolve(dir, f));

const perFile = new Map(files.map((f) => [f, 0]));
let ran = 0;
const failed = [];
const skipped = [];

/**
 * Counts one finished test. Suites and the per-file wrapper node:test adds (named
 * after the file, reported when the file has no test or fails as a whole) are not
 * tests, but their failure (a failing hook, a file that does not load) fails the run.
 */
function count(data, passed) {
  const where = `${path.basename(data.file || '?')}: ${data.name}`;
  const isTest = data.details?.type !== 'suite' && !(data.nesting === 0 && data.name === data.file);
  if (!passed) failed.push(isTest ? where : `${where} (as a whole)`);
  if (!isTest) return;
  if (data.skip !== undefined || data.todo !== undefined) {
    skipped.push(where);
    return;
  }
  ran += 1;
  if (perFile.has(data.file)) perFile.set(data.file, perFile.get(data.file) + 1);
}

const stream = run({ files, concurrency: 1 });
stream.on('test:pass', (d) => count(d, true));
stream.on('test:fail', (d) => count(d, false));
const report = stream.compose(spec);
report.pipe(process.stdout);
// After the reporter's last line, so the verdict is what the log ends with.
report.on('end', () => {
  const problems = [];
  if (failed.length) problems.push(`${failed.length} failed: ${failed.join('; ')}`);
  if (skipped.length) problems.push(`${skipped.length} test(s) skipped or todo, and nothing may be: ${skipped.join('; ')}`);
  for (const [file, n] of perFile) if (n === 0) problems.push(`${path.basename(file)} ran no test`);
  if (!subset.length && ran < minTests) {
    problems.push(`only ${ran} test(s) ran, fewer than the floor of ${minTests} (config.minTests in ${pkgFile}): a test file was lost or emptied`);
  }
  console.log(`\n${ran} test(s) ran in ${files.length} file(s)${subset.length ? ' (a subset: no floor)' : `, floor ${minTests}`}`);
  if (!subset.length && ran > minTests) console.log(`more tests than the floor: raise config.minTests in ${pkgFile} to ${ran}`);
  if (problems.length) {
    console.error(`\nFAILED:\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  }
});
