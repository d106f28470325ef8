-- On SQLite the node owns its database, so the app events of the dedupe window are
-- held in memory to tell repeats (engine `events::recent_events`), loaded from
-- `app_events` by `created_ms` when the node starts. The index on the fingerprint
-- served only that lookup, and its keys are random: each stored event dirtied a page
-- anywhere in it, about half the pages a group commit of the intake wrote
-- (bench/events/README.md). PostgreSQL keeps it: there several nodes store events.
DROP INDEX IF EXISTS app_events_fingerprint;
