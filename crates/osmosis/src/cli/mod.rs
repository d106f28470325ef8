//! The operator's commands beside `serve`: access tokens, workspace management,
//! friendlier parse errors, and what `serve` says and undoes at start.

pub mod database;
pub mod export;
pub mod flags;
pub mod startup;
pub mod token;
pub mod workspace;
