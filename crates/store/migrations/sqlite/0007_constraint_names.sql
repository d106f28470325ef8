-- PostgreSQL names its unique constraints in this version (the PostgreSQL migration
-- of the same number). SQLite reports a violation by its columns rather than a
-- name (crates/store/src/constraints.rs), so there is nothing to rename here; the
-- version keeps the two schemas' numbers in step.
SELECT 1;
