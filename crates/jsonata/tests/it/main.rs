//! The integration tests of `osmosis-jsonata`, as one test binary: `api` the public
//! API, `corpus` the SDK-recorded corpus of tests/jsonata. One binary links the crate
//! once instead of once per file.

mod api;
mod corpus;
