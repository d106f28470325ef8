//! The embedded pages (/embed/...): see the tests below.
