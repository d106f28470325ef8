//! App events (semantics §5.5).
