//! The operator's commands beside `serve`: access tokens, workspace management,
//! config as code (`export`/`import` on the database, `pull`/`push` through a
//! server's API), friendlier parse errors, and what `serve` says and undoes at
//! start.

pub mod console_link;
pub mod database;
pub mod export;
pub mod flags;
pub mod import;
pub mod remote;
pub mod startup;
pub mod token;
pub mod tree;
pub mod workspace;
