-- A workspace archived from the command line (`osmosis workspace delete`): its row
-- and data stay, its key stays taken, and it is no longer found by key or listed,
-- so its tokens are refused.
ALTER TABLE workspaces ADD COLUMN archived_at TEXT;
