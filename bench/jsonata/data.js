// Deterministic benchmark input shared by the Rust and Node sides: 1,000 records.
'use strict';
function records(n) {
  const depts = ['eng', 'ops', 'sales', 'support', 'finance'];
  const tags = ['rust', 'go', 'k8s', 'excel', 'crm', 'bash'];
  const out = [];
  let seed = 42;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed;
  };
  for (let i = 0; i < n; i++) {
    out.push({
      id: i + 1,
      name: `person-${i + 1}`,
      dept: depts[next() % depts.length],
      salary: 40000 + (next() % 120000) + (next() % 100) / 100,
      active: next() % 4 !== 0,
      tags: [tags[next() % tags.length], tags[next() % tags.length]],
    });
  }
  return { records: out };
}
module.exports = { records };
if (require.main === module) process.stdout.write(JSON.stringify(records(Number(process.argv[2] || 1000))));
