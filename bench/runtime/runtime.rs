//! Benchmark of the expression runtime beside the SDK measured in the same run: building
//! a 50-field mapping (`buildData`) and matching a filter over 10,000 records
//! (`doesMatchFilter`). The workload comes from `sdk-bench.js`, which also times the
//! SDK on it; the bench first checks that both give the same results, alternates SDK and
//! Osmosis batches so both see the same machine load, and writes the ratios into the
//! "Expression runtime" section of BENCHMARKS.md. Criterion's own report follows.
//!
//! Run: `cargo bench -p osmosis-runtime` (needs `node` and tests/sdk/node_modules).

use criterion::Criterion;
use osmosis_runtime::filter::{does_match_filter, CompiledFilter};
use osmosis_runtime::formula::{build_data, BuildPlan};
use serde_json::Value;
use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn node(mode: &str) -> Value {
    let out = Command::new("node")
        .arg(repo_root().join("bench/runtime/sdk-bench.js"))
        .arg(mode)
        .env("TZ", "UTC")
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "sdk-bench.js failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("sdk-bench.js prints JSON")
}

/// Nanoseconds per call for each of 10 batches, after one warm-up batch: the method of
/// sdk-bench.js.
fn batch_ns(per_batch: u32, mut f: impl FnMut()) -> Vec<f64> {
    for _ in 0..per_batch {
        f();
    }
    (0..10)
        .map(|_| {
            let t0 = Instant::now();
            for _ in 0..per_batch {
                f();
            }
            t0.elapsed().as_nanos() as f64 / f64::from(per_batch)
        })
        .collect()
}

fn median(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

fn best(samples: &[f64]) -> f64 {
    samples.iter().copied().fold(f64::INFINITY, f64::min)
}

fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.1} µs", ns / 1e3)
    }
}

/// One row: Osmosis and SDK batch samples of the same work.
struct Row {
    name: &'static str,
    osmosis: Vec<f64>,
    sdk: Vec<f64>,
}

fn write_section(rows: &[Row], matches: u64, rounds: usize, load: &str) {
    let path = repo_root().join("BENCHMARKS.md");
    let existing = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
    let mut section = format!(
        "## Expression runtime (formulas and filters)\n\n\
         `cargo bench -p osmosis-runtime` (bench/runtime/). The workload and the baseline come from \
         `bench/runtime/sdk-bench.js`, which times `@membranehq/sdk` 0.28.3 in Node on the same data; \
         the bench first checks both give the same results (the mapping output, and {matches} of \
         10,000 records matching the filter). Both sides time batches the same way (200 builds or 3 \
         passes over the records per batch, one warm-up batch, then 10 timed batches) and the bench \
         alternates them: {rounds} rounds of the SDK's batches then Osmosis' batches, so both see the \
         same machine load. Figures are the median and the best of the {n} batches per side; the ratio \
         is SDK time / Osmosis time.\n\n\
         | case | Osmosis median | SDK median | ratio (medians) | Osmosis best | SDK best | ratio (best) |\n\
         |---|---|---|---|---|---|---|\n",
        n = rounds * 10
    );
    for row in rows {
        let (om, sm) = (median(&row.osmosis), median(&row.sdk));
        let (ob, sb) = (best(&row.osmosis), best(&row.sdk));
        section.push_str(&format!(
            "| {} | {} | {} | {:.1}× | {} | {} | {:.1}× |\n",
            row.name,
            format_ns(om),
            format_ns(sm),
            sm / om,
            format_ns(ob),
            format_ns(sb),
            sb / ob
        ));
    }
    section.push_str(&format!(
        "\nWhat each row runs. SDK side: `buildData(mapping, variables)` per call, and \
         `doesMatchFilter(record, filter)` per record counting the matches (the SDK has no compiled \
         form; it parses locators on every call). Osmosis side: `BuildPlan` compiles the mapping once \
         (outside the timing) and each call builds from the plan; `CompiledFilter` compiles the filter \
         once and matches each record; the `build_data` and `does_match_filter` rows do everything \
         per call as the SDK does. The workload: a 50-field mapping mixing `$var`, `$concat`, `$tpl`, \
         `$case`, `$map`, `$firstNotEmpty`, `$extractDate`, `$eval`, `$domainFromEmail`, `$and` and \
         nested objects, built over one record; a filter of three conditions (`more_than_or_equal` \
         on `age`, `is_one_of` on `address.city`, `array_includes` on `tags`) over 10,000 records of \
         11 fields with a nested object and arrays. Target: at least 10× for the compiled rows. \
         Measured on a shared machine (load average at the start: {load}), so absolute times are \
         inflated and vary between runs; the median includes time the process waited for a core, \
         the best batch mostly does not.\n",
    ));
    let start = existing.find("## Expression runtime");
    let updated = match start {
        Some(s) => {
            let end = existing[s + 3..]
                .find("\n## ")
                .map(|e| s + 3 + e + 1)
                .unwrap_or(existing.len());
            format!("{}{}\n{}", &existing[..s], section, &existing[end..])
        }
        None => format!(
            "{}\n{}",
            existing.trim_end_matches('\n').to_string() + "\n",
            section
        ),
    };
    std::fs::write(&path, updated).expect("BENCHMARKS.md is writable");
}

fn samples(v: &Value, key: &str) -> Vec<f64> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("sdk-bench.js prints {key}"))
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

const ROUNDS: usize = 3;

fn main() {
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    let workload = node("workload");
    let mapping = workload["mapping"].clone();
    let variables = workload["variables"].clone();
    let filter = workload["filter"].clone();
    let records = workload["records"].as_array().expect("records").clone();

    let plan = BuildPlan::compile(Some(&mapping));
    let compiled = CompiledFilter::compile(Some(&filter));
    let count_compiled = || {
        records
            .iter()
            .filter(|r| compiled.matches(Some(r)).unwrap_or(false))
            .count()
    };
    let count_plain = || {
        records
            .iter()
            .filter(|r| does_match_filter(Some(r), Some(&filter)).unwrap_or(false))
            .count()
    };

    let mut rows = [
        "`buildData`, 50-field mapping, `BuildPlan`",
        "`buildData`, 50-field mapping, `build_data` per call",
        "filter (3 conditions) over 10,000 records, `CompiledFilter`",
        "filter over 10,000 records, `does_match_filter` per record",
    ]
    .map(|name| Row {
        name,
        osmosis: Vec::new(),
        sdk: Vec::new(),
    });
    let mut matches = 0;
    for round in 0..ROUNDS {
        let sdk = node("time");
        if round == 0 {
            let built = plan.build(Some(&variables)).expect("mapping builds");
            assert_eq!(
                built.as_ref(),
                Some(&sdk["mappingOut"]),
                "mapping output differs from the SDK"
            );
            assert_eq!(
                build_data(Some(&mapping), Some(&variables)).expect("mapping builds"),
                built
            );
            matches = sdk["filterMatches"].as_u64().expect("count");
            assert_eq!(count_compiled() as u64, matches, "filter count differs");
            assert_eq!(count_plain(), count_compiled());
        }
        let (sdk_mapping, sdk_filter) = (
            samples(&sdk, "mappingSamples"),
            samples(&sdk, "filterSamples"),
        );
        rows[0].sdk.extend(&sdk_mapping);
        rows[1].sdk.extend(&sdk_mapping);
        rows[2].sdk.extend(&sdk_filter);
        rows[3].sdk.extend(&sdk_filter);
        rows[0].osmosis.extend(batch_ns(200, || {
            black_box(plan.build(black_box(Some(&variables))).ok());
        }));
        rows[1].osmosis.extend(batch_ns(200, || {
            black_box(build_data(black_box(Some(&mapping)), black_box(Some(&variables))).ok());
        }));
        rows[2].osmosis.extend(batch_ns(3, || {
            black_box(count_compiled());
        }));
        rows[3].osmosis.extend(batch_ns(3, || {
            black_box(count_plain());
        }));
    }

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("BuildPlan 50-field mapping", |b| {
        b.iter(|| plan.build(black_box(Some(&variables))))
    });
    c.bench_function("build_data 50-field mapping", |b| {
        b.iter(|| build_data(black_box(Some(&mapping)), black_box(Some(&variables))))
    });
    c.bench_function("CompiledFilter over 10,000 records", |b| {
        b.iter(|| black_box(count_compiled()))
    });
    c.bench_function("does_match_filter over 10,000 records", |b| {
        b.iter(|| black_box(count_plain()))
    });
    c.final_summary();

    for row in &rows {
        println!(
            "{}: osmosis {} sdk {} ratio {:.1}x (best {:.1}x)",
            row.name,
            format_ns(median(&row.osmosis)),
            format_ns(median(&row.sdk)),
            median(&row.sdk) / median(&row.osmosis),
            best(&row.sdk) / best(&row.osmosis)
        );
    }
    write_section(&rows, matches, ROUNDS, &load);
}
