//! Osmosis' pure expression runtime: the part of `@membranehq/sdk` that turns
//! configuration into data. Locators, data filters, the formula builder
//! (`buildData` / `resolveFormulas`), data schemas and flow graph helpers, each
//! reproducing the SDK's observable behaviour (quirks included), which differential
//! tests against the SDK itself check.
//!
//! Values are `serde_json::Value`; a top-level JavaScript `undefined` is `None`
//! ([`js::JsValue`]), and an `undefined` nested inside an array or object is the marker
//! object `{"$undefined": true}` (see [`js::strip_undefined`] before sending a value
//! over the wire). The crate does no I/O: the outside world reaches `resolveFormulas`
//! through [`formula::FormulaHost`].

pub mod dates;
pub mod error;
pub mod filter;
pub mod flow_graph;
pub mod formula;
pub mod js;
pub mod locator;
pub mod names;
pub mod oracle;
pub mod property_key;
pub mod schema;

pub use error::{Result, RuntimeError};
pub use js::JsValue;
