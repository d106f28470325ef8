//! Criterion benchmark: one JSONata expression (filter + map + aggregate +
//! group-by) over 1,000 records, beside the SDK's own jsonata 1.8.9 in Node
//! measured in the same run. Prints both per-evaluation times and their ratio.
//!
//! Run: `cargo bench -p osmosis-jsonata` (needs `node` and tests/sdk/node_modules).

use std::process::Command;
use std::time::Instant;

use criterion::Criterion;

const EXPR: &str = r#"{
  "active": $count(records[active]),
  "payroll": $round($sum(records[active and salary > 60000].(salary * 1.1)), 2),
  "eng": records[dept = "eng" and "rust" in tags].$uppercase(name),
  "byDept": records{dept: $round($average(salary), 2)}
}"#;

const ITERATIONS: u32 = 200;

fn bench_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/jsonata")
}

fn node(args: &[&str]) -> String {
    let out = Command::new("node")
        .current_dir(bench_dir())
        .args(args)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Median nanoseconds per call over 10 batches, the method node-bench.js uses.
fn median_ns(mut f: impl FnMut()) -> f64 {
    for _ in 0..20 {
        f();
    }
    let mut samples: Vec<f64> = (0..10)
        .map(|_| {
            let t0 = Instant::now();
            for _ in 0..ITERATIONS / 10 {
                f();
            }
            t0.elapsed().as_nanos() as f64 / f64::from(ITERATIONS / 10)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let data: serde_json::Value =
        serde_json::from_str(&node(&["data.js", "1000"])).expect("benchmark data is JSON");
    let expr = osmosis_jsonata::compile(EXPR).expect("benchmark expression compiles");
    let ours = expr
        .evaluate(&data)
        .expect("evaluates")
        .expect("has a value");

    let node_out: serde_json::Value =
        serde_json::from_str(&node(&["node-bench.js", EXPR, &ITERATIONS.to_string()]))
            .expect("node-bench prints JSON");
    assert_eq!(
        serde_json::to_string(&ours).expect("serialises"),
        serde_json::to_string(&node_out["result"]).expect("serialises"),
        "Osmosis and the SDK disagree on the benchmark result"
    );

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("jsonata/filter-map-aggregate-1000-records", |b| {
        b.iter(|| expr.evaluate(std::hint::black_box(&data)))
    });
    c.bench_function("jsonata/compile+evaluate-1000-records", |b| {
        b.iter(|| osmosis_jsonata::evaluate(EXPR, std::hint::black_box(&data)))
    });

    let rust_ns = median_ns(|| {
        std::hint::black_box(expr.evaluate(&data).ok());
    });
    let node_ns = node_out["ns_per_eval"].as_f64().expect("ns_per_eval");
    println!(
        "jsonata 1,000 records: osmosis {:.1} µs/eval, SDK jsonata (node) {:.1} µs/eval, ratio osmosis/node = {:.2}",
        rust_ns / 1000.0,
        node_ns / 1000.0,
        rust_ns / node_ns
    );
    c.final_summary();
}
