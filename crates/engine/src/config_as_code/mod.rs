//! Config as code: a workspace as files in Membrane's layout (semantics §9.3),
//! so a team keeps its integrations in git and moves them between servers.
//!
//! [`export`] writes the files; the zip a client downloads is built by a
//! background job ([`jobs`]), so a large workspace does not hold a request open.
//! Import (the way back) is not built yet: `POST /import` answers that no route
//! serves it.

pub mod export;
pub mod jobs;

pub use export::{ExportOptions, WorkspaceFiles};
