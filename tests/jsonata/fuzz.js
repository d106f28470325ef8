// Random JSONata expressions for differential testing against the SDK
// (`node corpus.js fuzz SEED N OUT`). The grammar mixes paths, predicates,
// operators, literals, built-in calls, lambdas, blocks, order-by, group-by,
// regexes and focus/index bindings over one fixed input; a fixed seed gives
// the same cases every time.
'use strict';

const INPUT = {
  a: [{ b: 1, c: 'x', n: 3 }, { b: 2, c: 'y', n: -1.5 }, { b: 'z' }],
  b: { a: [1, 2, 3], c: null },
  c: 'str',
  n: 42,
  s: 'Hello World',
  xs: [3, 1, 2],
  o: { a: 1, b: [true, false] },
  tags: ['p', 'q'],
};

const NAMES = ['a', 'b', 'c', 'n', 's', 'xs', 'o', 'missing', 'tags'];
const LITERALS = ['0', '1', '2', '-1', '2.5', '0.1', '1e3', '"x"', '"a b"', "''", 'true', 'false', 'null',
  '[]', '{}', '[1,2,3]', '["b","a"]', '{"k": 1}', '"2024-03-15"', '"#,##0.00"', '"[Y]-[M01]"'];
const FUNCTIONS = ['$string', '$number', '$boolean', '$not', '$exists', '$count', '$sum', '$max', '$min',
  '$average', '$length', '$uppercase', '$lowercase', '$trim', '$keys', '$spread', '$reverse', '$distinct',
  '$sort', '$type', '$abs', '$floor', '$ceil', '$round', '$sqrt', '$merge', '$append', '$join', '$split',
  '$contains', '$substring', '$substringBefore', '$substringAfter', '$pad', '$formatNumber', '$formatBase',
  '$lookup', '$zip', '$base64encode', '$encodeUrlComponent', '$fromMillis', '$formatInteger', '$power',
  '$match', '$replace', '$toMillis', '$single', '$shuffle'];
const OPERATORS = ['+', '-', '*', '/', '%', '=', '!=', '<', '<=', '>', '>=', '&', 'and', 'or', 'in'];
const REGEXES = ['/l+/', '/^[a-z]/i', '/(\\w)(\\w)?/', '/o/', '/x*/', '/[0-9]+/'];

function generate(seed, n) {
  let state = seed % 2147483647 || 1;
  const rnd = (k) => {
    state = (state * 48271) % 2147483647;
    return state % k;
  };
  const pick = (list) => list[rnd(list.length)];
  const path = (d) => {
    let p = pick(NAMES);
    for (let i = rnd(3); i > 0; i--) p += '.' + (rnd(5) === 0 ? '*' : pick(NAMES));
    if (rnd(3) === 0) p += '[' + expr(d + 1) + ']';
    if (rnd(8) === 0) p += '#$i[$i < 2]';
    if (rnd(10) === 0) p += '.%';
    return p;
  };
  const expr = (d) => {
    if (d > 3) return rnd(2) ? pick(LITERALS) : path(d);
    switch (rnd(17)) {
      case 0: case 1: return path(d);
      case 2: return pick(LITERALS);
      case 3: return `${expr(d + 1)} ${pick(OPERATORS)} ${expr(d + 1)}`;
      case 4: {
        const args = [];
        for (let i = rnd(3); i > 0; i--) args.push(expr(d + 1));
        return `${pick(FUNCTIONS)}(${args.join(', ')})`;
      }
      case 5: return `${expr(d + 1)} ? ${expr(d + 1)} : ${expr(d + 1)}`;
      case 6: return `[${expr(d + 1)}, ${expr(d + 1)}]`;
      case 7: return `{${pick(['"k"', '"j"', 's', 'c'])}: ${expr(d + 1)}}`;
      case 8: return `${path(d)}.(${expr(d + 1)})`;
      case 9: return `$map(${expr(d + 1)}, function($v, $i) { ${expr(d + 1).replace(/\bn\b/, '$v')} })`;
      case 10: return `($x := ${expr(d + 1)}; ${expr(d + 1).replace(/\ba\b/, '$x')})`;
      case 11: return `${path(d)}^(${pick(['', '>'])}${pick(NAMES)})`;
      case 12: return `${path(d)}{${pick(NAMES)}: ${expr(d + 1)}}`;
      case 13: return `-${expr(d + 1)}`;
      case 14: return `${pick(['s', 'c', '"a1b22"', 'tags[0]'])} ~> ${pick(REGEXES)}`;
      case 15: return `$${pick(['match', 'replace', 'split', 'contains'])}(${pick(['s', 'c', '"a1b22"'])}, ${pick(REGEXES)}${rnd(2) ? ', "-"' : ''})`;
      default: return `$reduce(${expr(d + 1)}, function($acc, $v) { $acc ${pick(['+', '&', '*'])} $v })`;
    }
  };
  const seen = new Set();
  const cases = [];
  while (cases.length < n) {
    const e = expr(0);
    if (seen.has(e)) continue;
    seen.add(e);
    cases.push({ id: `fuzz-${seed}-${cases.length + 1}`, expr: e, input: INPUT });
  }
  return cases;
}

module.exports = { generate };
