// generate.js - seeded random cases for the runtime differential test.
// Usage: node generate.js --seed 1 --count 20000 [--only buildData,doesMatchFilter]
// Writes oracle JSONL ({"id","fn","args"}) to stdout. The same seed gives the same cases.
//
// Avoided on purpose (documented limits of the Rust runtime, not SDK behaviour):
// property names inherited from Object.prototype (`constructor`, `toString`, ...),
// which read as functions in JavaScript; object identity (`===` of two references to
// the same object). JSONata expressions come from a fixed corpus (JSONATA below): the
// JSONata language itself is tested by tests/jsonata. The corpus leaves out expressions
// whose result is an object built by JSONata (it has no prototype in the SDK, so
// coercing it to a string throws there) or a JSONata sequence (an array carrying an
// own `sequence` property that `$mergeObjects` copies): the JSONata port returns plain
// JSON, so those two traits cannot be reproduced.
'use strict';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const seed = Number(opt('seed', '1'));
const count = Number(opt('count', '20000'));
const only = opt('only', '') ? opt('only', '').split(',') : null;

// mulberry32
let state = seed >>> 0;
function rand() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const pick = (xs) => xs[int(xs.length)];
const chance = (p) => rand() < p;

const KEYS = ['a', 'b', 'c', 'name', 'email', 'id', 'items', 'x', 'y', '0', '1', '12', 'a.b', 'a[0]', 'k\\', 'sp ace', 'Ünï', '$x', 'length', 'item', 'parent', 'index'];
const STRINGS = [
  '', 'a', 'abc', 'Hello World', 'hello', 'HELLO', '5', ' 3 ', '0', '-1', '1.5', '1e3', '0x1F', 'true', 'false', 'null',
  'undefined', 'a@b.com', 'x@y@z', '@', 'john.doe@example.org', '2024-01-02', '2024-01-02T10:11:12Z',
  '2024-01-02T10:11:12+02:00', '2024-1-2', '1/2/24', 'Jan 2 2024', 'Tue, 02 Jan 2024 10:11:12 GMT', '10:11', '12',
  '13', '100', '2024-02-30', 'Dr. John Q. Public Jr.', 'Cher', 'Smith, John', 'Ludwig van Beethoven', 'Mr. Bean',
  'Mary Ann de la Cruz', 'Hearst Jr., William', 'Jean-Luc Picard', 'a,b', '[object Object]', 'a.b', '{a}', '$&', '$1',
  'Ünïcödé', '1,2',
];
const NUMBERS = [0, 1, 2, 3, 5, 7, 10, 42, -1, -3, 0.5, 1.5, 2.25, -0.1, 100, 1e21, 123456789, 1e-7, 0.1];

function scalar() {
  switch (int(5)) {
    case 0: return null;
    case 1: return chance(0.5);
    case 2: return pick(NUMBERS);
    default: return pick(STRINGS);
  }
}

function value(depth = 3) {
  if (depth <= 0 || chance(0.45)) return scalar();
  if (chance(0.45)) {
    const n = int(4);
    return Array.from({ length: n }, () => value(depth - 1));
  }
  const obj = {};
  const n = int(5);
  for (let i = 0; i < n; i++) obj[pick(KEYS)] = value(depth - 1);
  return obj;
}

function escapeKey(k) {
  return k.replace(/[\\[\].]/g, '\\$&');
}

// Locators reaching real values in `data`, plus some that miss or are malformed.
function pathsOf(data, prefix = '$', out = []) {
  out.push(prefix);
  if (Array.isArray(data)) data.forEach((v, i) => pathsOf(v, `${prefix}[${i}]`, out));
  else if (data && typeof data === 'object') for (const k of Object.keys(data)) pathsOf(data[k], `${prefix}.${escapeKey(k)}`, out);
  return out;
}

function randomLocator(data) {
  const r = rand();
  if (r < 0.6) {
    const paths = pathsOf(data);
    let p = pick(paths);
    if (chance(0.3) && p.startsWith('$.')) p = p.slice(2);
    return p;
  }
  if (r < 0.75) return pick(['$.missing', 'nope.deeper', '$.a.length', 'a[0]', 'a.0', 'items[1].name', '$[0]', 'x.y.z']);
  if (r < 0.9) {
    let s = chance(0.5) ? '$' : '';
    const n = 1 + int(3);
    for (let i = 0; i < n; i++) {
      if (chance(0.7)) s += (s === '' ? '' : '.') + escapeKey(pick(KEYS));
      else s += `[${int(3)}]`;
    }
    return s;
  }
  return pick(['$x', '$[x]', '$[-1]', '$[1.5]', '$[ 1 ]', '$[0x1]', '$[', '', '$', '$..a', 'a\\.b', 'a\\\\.b', '$.a]b', '$[]', '$.a\\', '$$']);
}

// Scalar-valued locators, for operands (see the identity note at the top).
function scalarLocator(vars) {
  const paths = pathsOf(vars).filter((p) => {
    const steps = p;
    try {
      const v = require_getter(vars, steps);
      return v === null || typeof v !== 'object';
    } catch (_e) {
      return false;
    }
  });
  return paths.length && chance(0.8) ? pick(paths) : '$.missing';
}
function require_getter(data, path) {
  // Walk a locator produced by pathsOf.
  const re = /\.((?:\\.|[^.[\\])*)|\[(\d+)\]/g;
  let cur = data;
  let m;
  const body = path.slice(1);
  while ((m = re.exec(body))) {
    if (m[2] !== undefined) cur = cur[Number(m[2])];
    else cur = cur[m[1].replace(/\\(.)/g, '$1')];
  }
  return cur;
}

const FILTER_OPS = ['is', 'is_not', 'is_one_of', 'is_not_one_of', 'is_true', 'is_false', 'contains', 'does_not_contain',
  'array_includes', 'array_does_not_include', 'less_than', 'less_than_or_equal', 'more_than', 'more_than_or_equal',
  'is_not_empty', 'is_empty'];
const EVAL_OPS = ['is', 'isNot', 'oneOf', 'noneOf', 'contains', 'doesNotContain', 'lt', 'lte', 'gt', 'gte', 'isNotEmpty', 'isEmpty'];

function operand() {
  if (chance(0.25)) return Array.from({ length: int(4) }, scalar);
  return scalar();
}

function condition(data) {
  const c = { field: chance(0.95) ? randomLocator(data) : pick(['$x', '', 5]), operator: chance(0.95) ? pick(FILTER_OPS) : pick(['bogus', 'equals']) };
  if (chance(0.85)) c.value = operand();
  return c;
}

function filter(data) {
  return Array.from({ length: 1 + int(3) }, () => condition(data));
}

const FORMULAS = ['var', 'copy', 'tpl', 'record', 'lookup', 'plain', 'map', 'concat', 'firstName', 'lastName', 'iterate',
  'case', 'extractDate', 'extractTime', 'findExternalRecordId', 'findAppRecordId', 'eval', 'and', 'or', 'mergeObjects',
  'firstNotEmpty', 'domainFromEmail', 'formula', 'dataSchemaRef', 'jsonata'];
const JSONATA = ['$', 'a', '$.x', 'x.y', 'a.b.c', 'items[0]', 'items[-1]', '$count(items)', '$sum(xs)', '$string(a)',
  '$count($keys($))', '$exists(b)', 'a ? "yes" : "no"', '$uppercase(name)', '$type(a)', '[a, b]',
  '$not(a)', 'a = b', '$length(name)', '1 + 2', '$number("5")',
  '$join(["a", "b"], "-")', '$boolean(a)', '$lookup($, "a")', 
  'item', 'parent.a', 'index + 1', '$string(index) & ":" & $string(item)', 'a & b', '(', '$nope()',
  '$sum([1, 2.5])', '$round(2.5)', '$substring("hello", 1, 3)', '$sort([3, 1, 2])', '$reverse([1, 2])',
  '"x" in ["x", "y"]', '$contains("abc", "b")', '$split("a,b", ",")', '$trim("  a ")', '$abs(-2)', '$max([1, 5])'];

function varF(vars) {
  return { $var: chance(0.92) ? randomLocator(vars) : pick(['$x', '', '$[', 5]) };
}

// A formula tree over `vars` (the variables in scope).
function formula(vars, depth) {
  if (depth <= 0) return chance(0.6) ? varF(vars) : scalar();
  const t = pick(FORMULAS);
  const sub = () => (chance(0.7) ? formula(vars, depth - 1) : chance(0.5) ? varF(vars) : scalar());
  switch (t) {
    case 'var': return varF(vars);
    case 'copy': return { $copy: pick(['$.a', '$.b', '$.out', '$.missing', '$.a[0]', '$']) };
    case 'tpl': {
      const keys = ['name', 'x', 'a.b', 'n1', 'k'].filter(() => chance(0.5));
      const values = {};
      for (const k of keys) values[k] = sub();
      const template = chance(0.9) ? keys.map((k) => `{${k}}`).join(pick([' ', '-', '', ', '])) + pick(['', ' {x}', ' {missing}', ' {axb}']) : sub();
      return { $tpl: { template, values } };
    }
    case 'record': return { $record: chance(0.8) ? { id: scalar(), name: 'n' } : scalar() };
    case 'lookup': return { $lookup: { query: { email: sub() }, createIfNotFound: chance(0.5) } };
    case 'plain': return { $plain: chance(0.5) ? varF(vars) : value(2) };
    case 'map': {
      const mapping = Array.from({ length: int(4) }, () => ({ from: chance(0.7) ? scalar() : sub(), to: sub() }));
      const args = { value: sub(), mapping };
      if (chance(0.6)) args.default = sub();
      return { $map: args };
    }
    case 'concat': {
      const values = Array.from({ length: int(4) }, sub);
      if (chance(0.5)) return { $concat: values };
      const args = { values };
      if (chance(0.6)) args.delimiter = chance(0.8) ? pick([', ', '-', '', ' ', 0, null]) : sub();
      return { $concat: args };
    }
    case 'firstName':
    case 'lastName':
      return { [`$${t}`]: chance(0.6) ? pick(STRINGS) : sub() };
    case 'extractDate':
    case 'extractTime':
      return { [`$${t}`]: chance(0.6) ? pick(STRINGS.concat(NUMBERS)) : sub() };
    case 'iterate': {
      // Item templates see {item, parent, index}.
      const inner = { item: pick([1, 'x', { v: 1 }, null, [1, 2]]), parent: vars, index: 0 };
      return { $iterate: { source: chance(0.7) ? varF(vars) : Array.from({ length: int(4) }, () => value(1)), item: formula(inner, depth - 1) } };
    }
    case 'case': {
      const cases = Array.from({ length: int(4) }, () => {
        const c = { value: sub() };
        const r = rand();
        if (r < 0.5) c.filter = filter(vars);
        else if (r < 0.8) c.filter = evalF(vars, depth - 1);
        else if (r < 0.9) c.filter = pick([0, false, '', 'x', null]);
        return c;
      });
      if (chance(0.3)) return { $case: cases };
      const args = { cases };
      if (chance(0.6)) args.default = sub();
      return { $case: args };
    }
    case 'findExternalRecordId':
    case 'findAppRecordId':
      return { [`$${t}`]: { dataLinkTable: { key: 'tbl' }, recordId: sub() } };
    case 'eval': return evalF(vars, depth - 1);
    case 'and':
    case 'or':
    case 'firstNotEmpty':
    case 'mergeObjects':
      return { [`$${t}`]: chance(0.9) ? Array.from({ length: int(4) }, sub) : scalar() };
    case 'domainFromEmail': return { $domainFromEmail: chance(0.6) ? pick(STRINGS) : sub() };
    case 'formula': return { $formula: { a: varF(vars), b: sub(), c: [varF(vars), 1] } };
    case 'jsonata': return { $jsonata: chance(0.9) ? pick(JSONATA) : sub() };
    case 'dataSchemaRef': return { $dataSchemaRef: { type: pick(['data-collection', 'internal-data-schema']), key: 'k' } };
    default: return scalar();
  }
}

function evalF(vars, depth) {
  const f = { $eval: chance(0.5) ? varF(vars) : depth > 0 ? formula(vars, depth - 1) : scalar() };
  if (chance(0.9)) {
    const op = chance(0.95) ? pick(EVAL_OPS) : 'bogus';
    f[op] = chance(0.6) ? operand() : { $var: scalarLocator(vars) };
  }
  return f;
}

function template(vars) {
  if (chance(0.3)) return formula(vars, 3);
  const out = {};
  const n = 1 + int(4);
  for (let i = 0; i < n; i++) out[pick(['a', 'b', 'out', 'c', '1'])] = chance(0.8) ? formula(vars, 2) : value(1);
  if (chance(0.2)) out.cp = { $copy: pick(['$.a', '$.b', '$.out', '$.missing']) };
  return out;
}

function variables() {
  const v = {};
  const n = 1 + int(6);
  for (let i = 0; i < n; i++) v[pick(KEYS)] = value(3);
  return v;
}

// Schemas
const TYPES = ['string', 'number', 'integer', 'boolean', 'object', 'array', 'null'];
function schema(depth = 3) {
  const s = {};
  const r = rand();
  if (r < 0.75) s.type = pick(TYPES);
  else if (r < 0.85) s.type = [pick(TYPES), pick(TYPES)];
  else if (r < 0.9 && depth > 0) s.anyOf = [schema(depth - 1), schema(depth - 1)];
  if (chance(0.2)) s.title = pick(['T', 'Name']);
  if (s.type === 'object' && depth > 0 && chance(0.8)) {
    s.properties = {};
    const n = int(4);
    for (let i = 0; i < n; i++) s.properties[pick(KEYS)] = schema(depth - 1);
    if (chance(0.4)) s.required = Object.keys(s.properties).filter(() => chance(0.6)).concat(chance(0.2) ? ['zz'] : []);
    if (chance(0.2)) s.additionalProperties = chance(0.5);
  }
  if (s.type === 'array' && depth > 0 && chance(0.8)) s.items = schema(depth - 1);
  if (chance(0.1)) s.enum = ['a', 'b'];
  if (chance(0.1)) s.allowCustom = chance(0.5);
  if (chance(0.15)) s.default = value(1);
  if (chance(0.1)) s.readOnly = true;
  if (chance(0.05)) s.referenceRecords = [{ id: 1 }];
  if (chance(0.05)) s.format = 'date';
  return s;
}

function valueForSchema(s, depth = 3) {
  if (chance(0.25) || depth <= 0) return value(2);
  switch (s && s.type) {
    case 'object': {
      const out = {};
      for (const k of Object.keys(s.properties || {})) if (chance(0.7)) out[k] = valueForSchema(s.properties[k], depth - 1);
      if (chance(0.3)) out.extra = scalar();
      return out;
    }
    case 'array': return Array.from({ length: int(3) }, () => valueForSchema(s.items, depth - 1));
    case 'number':
    case 'integer': return pick([1, 2.5, '3', '4.5', 'x', '', true, null, ' 7 ']);
    case 'boolean': return pick([true, false, 'true', 'false', 'yes', 1, null]);
    case 'string': return pick(['s', 1, true, null, [1, 2], { a: 1 }]);
    default: return value(2);
  }
}

function options() {
  const o = {};
  for (const k of ['addDefaults', 'normalizeValues', 'skipUnknownFields', 'skipReadOnlyFields', 'valueHasFormulas']) if (chance(0.5)) o[k] = chance(0.8);
  return chance(0.1) ? undefined : o;
}

// Flow graphs
function nodes() {
  const n = 1 + int(6);
  const keys = Array.from({ length: n }, (_, i) => `n${i}`);
  const out = {};
  for (const k of keys) {
    const node = {};
    if (chance(0.9)) node.type = pick(['api-request-to-external-app', 'for-each-v2', 'for-each', 'transform-data']);
    if (node.type === 'for-each-v2' && chance(0.8)) node.config = { rootNodeKey: pick(keys.concat(['zz'])) };
    if (chance(0.8)) node.links = Array.from({ length: int(3) }, () => (chance(0.9) ? { key: pick(keys.concat(['zz'])) } : {}));
    out[k] = node;
  }
  return out;
}
function acyclicNodes() {
  const n = 1 + int(6);
  const out = {};
  for (let i = 0; i < n; i++) {
    const node = { type: pick(['transform-data', 'for-each-v2']) };
    const later = Array.from({ length: n - i - 1 }, (_, j) => `n${i + 1 + j}`);
    if (later.length) {
      node.links = Array.from({ length: int(3) }, () => ({ key: pick(later) }));
      if (node.type === 'for-each-v2' && chance(0.6)) node.config = { rootNodeKey: pick(later) };
    }
    out[`n${i}`] = node;
  }
  return out;
}

const GENERATORS = {
  buildData: () => { const v = variables(); return [template(v), v]; },
  buildValue: () => { const v = variables(); return [template(v), v]; },
  resolveFormulas: () => { const v = variables(); return [template(v), { variables: v, schema: chance(0.3) ? schema() : undefined }]; },
  backwardCompatibleFilterMatch: () => { const v = variables(); return [chance(0.5) ? filter(v) : evalF(v, 2), v]; },
  doesMatchFilter: () => { const v = variables(); return [v, filter(v)]; },
  locatorToSteps: () => [randomLocator(value(3))],
  stepsToLocator: () => [Array.from({ length: int(4) }, () => (chance(0.6) ? { type: 'object_property', propertyName: pick(KEYS) } : { type: 'array_item', index: int(5) }))],
  isValidLocator: () => [randomLocator(value(3))],
  getValueByLocator: () => { const d = value(4); return [d, randomLocator(d)]; },
  getValueAtLocator: () => { const d = value(4); return [d, randomLocator(d)]; },
  setValueAtLocator: () => { const d = value(3); return [d, randomLocator(d), chance(0.2) ? undefined : value(2)]; },
  getFilterFieldValuesByLocator: () => { const d = value(4); return [d, randomLocator(d)]; },
  createSchema: () => [value(4)],
  createCompoundSchema: () => [Array.from({ length: int(4) }, () => value(3))],
  mergeSchemas: () => [Array.from({ length: int(4) }, () => schema())],
  getSchemaFromValue: () => { const v = variables(); return [template(v), createSchemaJs(v)]; },
  buildDataSchema: () => { const v = variables(); return [template(v), createSchemaJs(v)]; },
  valueToSchema: () => { const s = schema(); return [valueForSchema(s), s, options()]; },
  getRequiredFieldsFromSchema: () => [schema()],
  getMissingRequiredFields: () => { const s = schema(); return [s, valueForSchema(s)]; },
  getSchemaByLocator: () => { const s = schema(); return [s, pick(['a', 'a.b', '$.x[0]', '$', 'items[0].name', '$x', 'name'])]; },
  schemaIsScalar: () => [schema()],
  schemaIsNumber: () => [chance(0.9) ? schema() : pick([null, 0, ''])],
  schemaHasFixedValues: () => [schema()],
  schemaAllowsCustomValue: () => [schema()],
  schemaHasProperties: () => [schema()],
  schemaTypeFromValue: () => [value(1)],
  isSchemaEmpty: () => [schema()],
  getOperatorsBySchema: () => [schema()],
  hasCycles: () => [nodes()],
  getRootNodeKeys: () => [{ nodes: nodes() }],
  getChildNodeKeys: () => [{ nodes: nodes() }, `n${int(6)}`],
  getParentNodeKeys: () => [{ nodes: nodes() }, `n${int(6)}`],
  getDownstreamNodeKeys: () => [{ nodes: nodes() }, `n${int(6)}`],
  getUpstreamNodeKeys: () => [{ nodes: chance(0.8) ? acyclicNodes() : nodes() }, `n${int(6)}`],
};

// The variables schema for getSchemaFromValue: the SDK's own createSchema shape.
function createSchemaJs(v) {
  if (v === null) return {};
  if (Array.isArray(v)) return v.length ? { type: 'array', items: createSchemaJs(v[0]) } : { type: 'array' };
  if (typeof v === 'object') {
    const properties = {};
    for (const k of Object.keys(v)) properties[k] = createSchemaJs(v[k]);
    return { type: 'object', properties };
  }
  return { type: typeof v === 'number' ? 'number' : typeof v };
}

// Weighted: the builder and filters get most cases.
const WEIGHTS = { buildData: 30, buildValue: 6, resolveFormulas: 12, doesMatchFilter: 14, backwardCompatibleFilterMatch: 3, valueToSchema: 5, getSchemaFromValue: 3, mergeSchemas: 3, createSchema: 2, createCompoundSchema: 2 };
const names = Object.keys(GENERATORS).filter((n) => !only || only.includes(n));
const table = [];
for (const n of names) for (let i = 0; i < (WEIGHTS[n] || 1); i++) table.push(n);

const out = [];
for (let i = 0; i < count; i++) {
  const fn = pick(table);
  const args = GENERATORS[fn]();
  // JSON has no undefined: drop trailing undefined arguments, keep the rest as JSON.
  while (args.length && args[args.length - 1] === undefined) args.pop();
  out.push(JSON.stringify({ id: `g${seed}-${i}`, fn, args }));
  if (out.length >= 1000) { process.stdout.write(out.join('\n') + '\n'); out.length = 0; }
}
if (out.length) process.stdout.write(out.join('\n') + '\n');
