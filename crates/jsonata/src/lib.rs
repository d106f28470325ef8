//! JSONata evaluation for Osmosis's `$jsonata` formula, matching what the
//! official SDK does: it calls the npm `jsonata` package **1.8.9**
//! (`jsonata(expr).evaluate(variables)`, synchronous) and turns any compile or
//! evaluation error into `undefined`.
//!
//! # Why a port of jsonata 1.8.9 rather than `jsonata-rs`
//!
//! The choice was made by measurement against `tests/jsonata/corpus.jsonl`
//! (736 expressions whose expected results come from the SDK itself), with a
//! throwaway harness that fed each case to `JsonAta::new(expr).evaluate(input)`:
//!
//! * `jsonata-rs` 0.3.4 as-is passes **587 of 736 (79.8%)** (570 of the first
//!   683 cases), even counting any error as a match for an SDK `undefined`,
//!   where this crate's own test also demands the same error code. Its failures were structural,
//!   not gaps one could fill from outside: object key order is lost (hash maps),
//!   numbers are printed with 15 significant digits (`0.1 + 0.2` gives `0.3`),
//!   closures and partial application panic, the parent operator `%` panics,
//!   `$match` reports wrong indexes, `$reduce` without an initial value
//!   repeats the first item, and regex literals cannot be applied with `~>`.
//!   Its function registration cannot reach the parser or value model, so
//!   wrapping it could not fix these.
//! * This crate ports jsonata 1.8.9's parser, post-parse stage, evaluator,
//!   signature validation and function library line by line, so that its
//!   quirks (sequence flattening, singleton unwrapping, `$round`'s banker's
//!   rounding, `$string`'s 15-digit numbers, JavaScript property order) are
//!   reproduced. It passes the whole corpus; see `tests/it/corpus.rs`. As a
//!   wider check during development, the 1,582 cases of the JSONata project's
//!   own test suite that need no external bindings were run through the SDK
//!   oracle and this crate: 1,578 agreed; 2 use custom matcher functions
//!   (unsupported, below) and 2 depend on the clock or on bindings.
//!
//! # Results
//!
//! [`evaluate`] returns `Ok(None)` for JSONata's `undefined`. Values are
//! converted to JSON the way `JSON.stringify` would serialise them (functions
//! and `undefined` dropped from objects and `null` in arrays, non-finite
//! numbers `null`), because that is what reaches any SDK client.
//!
//! # Not supported
//!
//! These report [`JsonataError::Unsupported`] instead of a value: custom
//! matcher functions (anything but a regex) in `$match`/`$replace`/`$split`/
//! `$contains`, partial application of a regex, regex syntax that
//! `fancy-regex` does not accept, `$toMillis` of an ISO time without a full
//! date, and dates outside what JavaScript's `Date` can hold.
//!
//! Known divergence: recursion deeper than Node's stack fails at a slightly
//! different depth (see `MAX_DEPTH` in the evaluator); both fail cleanly.

mod ast;
pub mod calendar;
mod error;
mod eval;
mod functions;
mod lexer;
mod number;
mod parser;
mod process;
mod regex;
mod signature;
mod value;

use std::sync::Arc;

pub use error::JsonataError;

use ast::Node;
use eval::Evaluator;
use value::{Array, Value};

/// A compiled JSONata expression, reusable across evaluations.
///
/// It is `Send + Sync`, so a cache of compiled expressions can be shared
/// between threads; each evaluation builds its own values and scopes.
#[derive(Clone, Debug)]
pub struct Expression {
    ast: Arc<Node>,
}

/// Parses and post-processes an expression (jsonata's `parser(expr)`).
pub(crate) fn compile_ast(expr: &str) -> Result<Node, JsonataError> {
    let raw = parser::Parser::parse(expr)?;
    process::Processor::new().run(raw)
}

/// Compiles an expression; a syntax error is [`JsonataError::Compile`].
pub fn compile(expression: &str) -> Result<Expression, JsonataError> {
    Ok(Expression {
        ast: Arc::new(compile_ast(expression)?),
    })
}

impl Expression {
    /// Evaluates against `input`; `Ok(None)` is JSONata's `undefined`.
    pub fn evaluate(
        &self,
        input: &serde_json::Value,
    ) -> Result<Option<serde_json::Value>, JsonataError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as f64)
            .unwrap_or(0.0);
        let mut ev = Evaluator::new(now);
        let root = ev.frame(None);
        functions::bind_library(&root);
        let env = ev.frame(Some(&root));
        let raw = value::from_json(input);
        Evaluator::bind(&env, "$", raw.clone());
        // A JSON array input is wrapped in a singleton sequence so it is
        // treated as one value, as jsonata's evaluate() does.
        let input = if raw.is_array() {
            Value::array(Array {
                items: vec![raw],
                sequence: true,
                outer_wrapper: true,
                ..Default::default()
            })
        } else {
            raw
        };
        let result = ev.evaluate(&self.ast, &input, &env)?;
        Ok(value::to_json(&result))
    }
}

/// Compiles and evaluates `expression` against `input` in one step.
pub fn evaluate(
    expression: &str,
    input: &serde_json::Value,
) -> Result<Option<serde_json::Value>, JsonataError> {
    compile(expression)?.evaluate(input)
}
