//! Checks every case of `tests/jsonata/corpus.jsonl` (expectations recorded from
//! the SDK's own `$jsonata` formula; `tests/jsonata/differential.sh` re-proves
//! them against the SDK) against this crate.
//!
//! A case the SDK evaluates to `undefined` because jsonata threw must fail here
//! with the same kind of error (compile or evaluate) and the same jsonata code;
//! any other case must produce the same JSON, with object keys in the same order.

use osmosis_jsonata::{evaluate, JsonataError};
use serde_json::Value;

/// The stored corpus, or the file named by `JSONATA_CORPUS` (for example the
/// output of `node tests/jsonata/corpus.js fuzz SEED N OUT`).
fn corpus() -> Vec<Value> {
    let path = std::env::var("JSONATA_CORPUS").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/jsonata/corpus.jsonl"
        )
        .to_string()
    });
    let text = std::fs::read_to_string(&path).expect("corpus file is readable");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("corpus line is JSON"))
        .collect()
}

fn is_undefined_marker(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| o.len() == 1 && o.get("$undefined") == Some(&Value::Bool(true)))
}

/// Same JSON, numbers compared as doubles and keys in the same order. The
/// oracle writes an `undefined` array item as a marker; JSON has only `null`.
fn same(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Null, e) if is_undefined_marker(e) => true,
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b.iter())
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        (a, b) => a == b,
    }
}

fn check(case: &Value) -> Result<(), String> {
    let expr = case["expr"].as_str().expect("expr");
    let result = evaluate(expr, &case["input"]);
    if let Some(err) = case.get("error") {
        let phase = err["phase"].as_str().unwrap_or("");
        let code = err["code"].as_str();
        return match (&result, phase) {
            (Err(JsonataError::Compile { code: c, .. }), "compile")
            | (Err(JsonataError::Evaluate { code: c, .. }), "evaluate")
                if code.is_none_or(|code| code == *c) =>
            {
                Ok(())
            }
            _ => Err(format!("expected {phase} error {code:?}, got {result:?}")),
        };
    }
    let expected = &case["expected"];
    match (&result, is_undefined_marker(expected)) {
        (Ok(None), true) => Ok(()),
        (Ok(Some(v)), false) if same(v, expected) => Ok(()),
        _ => Err(format!("expected {expected}, got {result:?}")),
    }
}

#[test]
fn corpus_matches_sdk() {
    let cases = corpus();
    assert!(cases.len() >= 300, "corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(why) = check(case) {
            failures.push(format!(
                "{} `{}`: {why}",
                case["id"],
                case["expr"].as_str().unwrap_or("")
            ));
        }
    }
    for f in &failures {
        eprintln!("FAIL {f}");
    }
    eprintln!(
        "jsonata corpus: {} passed, {} failed",
        cases.len() - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} corpus cases differ from the SDK",
        failures.len()
    );
}
