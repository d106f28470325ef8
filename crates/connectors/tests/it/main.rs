//! The integration tests of `osmosis-connectors`, as one test binary: each file is a
//! module, `mock` holds the third parties they talk to, `conformance` the mocks that
//! enforce each vendor's rules. One binary links the crate once instead of once per
//! file.

mod auth_flows;
mod catalog;
mod collections;
mod conformance;
mod deadlines;
mod definitions;
mod functions;
mod mock;
mod outbound_guard;
mod token_rotation;
