//! The integration tests of `osmosis-store`, as one test binary: each file is a module,
//! `common` is a fresh database of the backend `OSMOSIS_TEST_DATABASE` names. One
//! binary links the crate once instead of once per file.

mod action_runs;
mod background_jobs;
mod cache_budget;
mod common;
mod conformance;
mod connector_versions;
mod console_sessions;
mod data_links;
mod elements;
mod events;
mod flow_runs;
mod jobs;
mod package_versions;
