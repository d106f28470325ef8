-- Selectors also look up archived elements by key (to restore them, to answer
-- "archived" rather than "not found"); the unique key index is partial (live
-- elements only), so it cannot serve those lookups.
CREATE INDEX elements_by_key ON elements (workspace_id, element_type, key);
CREATE INDEX elements_by_connection ON elements (workspace_id, element_type, connection_id);
