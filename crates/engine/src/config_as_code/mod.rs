//! Config as code: a workspace as files in Membrane's layout (semantics §9.3),
//! so a team keeps its integrations in git and moves them between servers.
//!
//! [`export`] writes the files; the zip a client downloads is built by a
//! background job ([`jobs`]), so a large workspace does not hold a request open.
//! [`import`] is the way back: files made the workspace's elements, all or
//! nothing, staged through the element core ([`staged`]) first.

pub mod export;
pub mod import;
pub mod jobs;
mod staged;

pub use export::{ExportOptions, WorkspaceFiles};
pub use import::ImportOptions;
