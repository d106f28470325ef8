//! Plain data types of the Membrane API that every other Osmosis crate shares.
//!
//! This crate owns the vocabulary — the error body (`ErrorData`), the element type
//! registry with each type's own fields, states and layers, selectors — and nothing
//! that does I/O. Everything here is serde-serialisable so the store, the engine and
//! the HTTP layer speak the same types.

pub mod element;
pub mod element_type;
pub mod error;
pub mod fields;
pub mod ids;
pub mod patch;
pub mod response_keys;
pub mod selector;

pub use element::{Element, ElementState};
pub use element_type::{ElementType, TypeSpec};
pub use error::{ApiError, ErrorType};
pub use selector::Layer;
