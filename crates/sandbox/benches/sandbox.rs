//! Cold start and warm call of the sandbox, beside the same work in Node's `vm` module
//! measured in the same run.
//!
//! Criterion gives the detailed statistics. After it, a summary measures each case
//! again the same way in Rust and in Node (median per-iteration time over batches) and
//! prints a Markdown table with the ratios; `bench/sandbox/run.sh` puts that table in
//! `BENCHMARKS.md`. Set `SANDBOX_BENCH_SUMMARY=<path>` to also write it to a file.

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::Criterion;
use osmosis_sandbox::{HostApi, HostObject, Sandbox};
use rquickjs::{Context, Function, Module, Promise, Runtime, Value};
use serde_json::json;

const TRIVIAL: &str =
    "export default async function({ input }) { return { doubled: input.n * 2 }; }";
const ONE_HOST_CALL: &str = "export default async function({ input, apiClient }) { const r = await apiClient.get('/n', input.n); return { doubled: r * 2 }; }";

/// The same three cases in Node: a fresh `vm` context per cold run, the same function
/// called again for the warm run, and an async host function from the outer realm.
const NODE_SCRIPT: &str = r#"
const vm = require("vm");
const TRIVIAL = "(async function({ input }) { return { doubled: input.n * 2 }; })";
const ONE_HOST_CALL = "(async function({ input, apiClient }) { const r = await apiClient.get('/n', input.n); return { doubled: r * 2 }; })";
const apiClient = { get: async (path, n) => n };
async function cold(src, withHost) {
  const ctx = vm.createContext({});
  const fn = new vm.Script(src, { filename: "user.js" }).runInContext(ctx);
  const arg = JSON.parse('{"input":{"n":21}}');
  if (withHost) arg.apiClient = apiClient;
  return JSON.parse(JSON.stringify(await fn(arg)));
}
async function median(batches, perBatch, f) {
  const times = [];
  for (let b = 0; b < batches; b++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) await f();
    times.push(Number(process.hrtime.bigint() - t) / perBatch);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
(async () => {
  const ctx = vm.createContext({});
  const warmFn = new vm.Script(TRIVIAL, { filename: "user.js" }).runInContext(ctx);
  const warm = async () => JSON.parse(JSON.stringify(await warmFn(JSON.parse('{"input":{"n":21}}'))));
  for (let i = 0; i < 200; i++) { await cold(TRIVIAL, false); await warm(); await cold(ONE_HOST_CALL, true); }
  const out = {
    cold_start: await median(15, 100, () => cold(TRIVIAL, false)),
    warm_call: await median(15, 20000, warm),
    cold_start_with_host_call: await median(15, 100, () => cold(ONE_HOST_CALL, true)),
    version: process.version,
  };
  console.log(JSON.stringify(out));
})();
"#;

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn host() -> HostApi {
    HostApi::new().object(
        "apiClient",
        HostObject::new().method("get", |args: Vec<serde_json::Value>| async move {
            Ok(args[1].clone())
        }),
    )
}

/// Cold start through the public API: fresh runtime, context, module, call, result —
/// including the hop to a blocking thread and back.
fn cold_start(rt: &tokio::runtime::Runtime, sandbox: &Sandbox) {
    let output = rt
        .block_on(sandbox.run_module(TRIVIAL, json!({ "input": { "n": 21 } }), HostApi::new()))
        .expect("run succeeds");
    assert_eq!(output.result, json!({ "doubled": 42 }));
}

fn cold_start_with_host_call(rt: &tokio::runtime::Runtime, sandbox: &Sandbox, host: &HostApi) {
    let output = rt
        .block_on(sandbox.run_module(ONE_HOST_CALL, json!({ "input": { "n": 21 } }), host.clone()))
        .expect("run succeeds");
    assert_eq!(output.result, json!({ "doubled": 42 }));
}

/// A warm call: the module already evaluated in a live context, its default export
/// called again with a JSON argument and the result serialised back. The runner does
/// not reuse contexts (isolation); this is what reuse would cost, for comparison.
struct Warm {
    _runtime: Runtime,
    context: Context,
}

impl Warm {
    fn new() -> Self {
        let runtime = Runtime::new().expect("runtime");
        let context = Context::full(&runtime).expect("context");
        context.with(|ctx| {
            let module = Module::declare(ctx.clone(), "user.js", TRIVIAL).expect("declare");
            let (module, evaluation) = module.eval().expect("eval");
            evaluation.finish::<()>().expect("module evaluates");
            let function: Function = module.get("default").expect("default export");
            ctx.globals().set("__default", function).expect("set");
        });
        Self {
            _runtime: runtime,
            context,
        }
    }

    fn call(&self) -> String {
        self.context.with(|ctx| {
            let function: Function = ctx.globals().get("__default").expect("default");
            let argument = ctx.json_parse(r#"{"input":{"n":21}}"#).expect("argument");
            let promise: Promise = function.call((argument,)).expect("call");
            let value: Value = promise.finish().expect("settles");
            ctx.json_stringify(value)
                .expect("stringify")
                .expect("json")
                .to_string()
                .expect("utf-8")
        })
    }
}

fn median_per_iteration(batches: usize, per_batch: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..batches)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..per_batch {
                f();
            }
            started.elapsed() / per_batch as u32
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

struct NodeFigures {
    cold_start: f64,
    warm_call: f64,
    cold_start_with_host_call: f64,
    version: String,
}

fn node_figures() -> Option<NodeFigures> {
    let output = Command::new("node")
        .arg("-e")
        .arg(NODE_SCRIPT)
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!("node failed: {}", String::from_utf8_lossy(&output.stderr));
        return None;
    }
    let figures: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    Some(NodeFigures {
        cold_start: figures["cold_start"].as_f64()?,
        warm_call: figures["warm_call"].as_f64()?,
        cold_start_with_host_call: figures["cold_start_with_host_call"].as_f64()?,
        version: figures["version"].as_str()?.to_owned(),
    })
}

fn format_ns(ns: f64) -> String {
    if ns >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else if ns >= 1_000.0 {
        format!("{:.1} µs", ns / 1_000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

fn summary(rt: &tokio::runtime::Runtime, sandbox: &Sandbox, host: &HostApi, warm: &Warm) -> String {
    let cold = median_per_iteration(15, 200, || cold_start(rt, sandbox));
    let warm_call = median_per_iteration(15, 20_000, || {
        black_box(warm.call());
    });
    let with_host = median_per_iteration(15, 200, || cold_start_with_host_call(rt, sandbox, host));
    let hop = median_per_iteration(15, 2_000, || {
        rt.block_on(async { tokio::task::spawn_blocking(|| black_box(1)).await })
            .expect("hop joins");
    });
    let node = node_figures();
    let mut table = String::from(
        "| case | Osmosis sandbox (QuickJS) | Node `vm` (same run) | sandbox / Node |\n|---|---|---|---|\n",
    );
    let rows = [
        (
            "cold start: new runtime + context + module + call (via tokio, blocking-thread hop)",
            cold,
            node.as_ref().map(|n| n.cold_start),
        ),
        (
            "warm call: same context, call again (engine level)",
            warm_call,
            node.as_ref().map(|n| n.warm_call),
        ),
        (
            "cold start + one async host call (`apiClient.get`)",
            with_host,
            node.as_ref().map(|n| n.cold_start_with_host_call),
        ),
    ];
    for (case, ours, theirs) in rows {
        let ours_ns = ours.as_nanos() as f64;
        let (theirs_text, ratio) = match theirs {
            Some(theirs_ns) => (format_ns(theirs_ns), format!("{:.2}", ours_ns / theirs_ns)),
            None => ("node unavailable".to_owned(), "—".to_owned()),
        };
        table.push_str(&format!(
            "| {case} | {} | {theirs_text} | {ratio} |\n",
            format_ns(ours_ns)
        ));
    }
    let node_version = node.map_or_else(|| "none".to_owned(), |n| n.version);
    table.push_str(&format!(
        "\nMedian time per iteration over 15 batches; Node {node_version} runs `vm.createContext` + `vm.Script` (a script, as Node's module `vm` API is experimental) in the same process run. \
        Of the sandbox's cold start, the round trip to a tokio blocking thread alone (`block_on(spawn_blocking(no-op))`) takes {}.\n",
        format_ns(hop.as_nanos() as f64)
    ));
    table
}

fn main() {
    let rt = tokio_runtime();
    let sandbox = Sandbox::default();
    let host = host();
    let warm = Warm::new();
    assert_eq!(warm.call(), r#"{"doubled":42}"#);

    let mut criterion = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    criterion.bench_function("sandbox/cold_start", |b| {
        b.iter(|| cold_start(&rt, &sandbox))
    });
    criterion.bench_function("sandbox/warm_call", |b| b.iter(|| black_box(warm.call())));
    criterion.bench_function("sandbox/cold_start_with_host_call", |b| {
        b.iter(|| cold_start_with_host_call(&rt, &sandbox, &host))
    });
    criterion.final_summary();

    let table = summary(&rt, &sandbox, &host, &warm);
    println!("\n{table}");
    if let Ok(path) = std::env::var("SANDBOX_BENCH_SUMMARY") {
        std::fs::write(&path, &table).expect("write the summary");
    }
}
