-- Leaf version 2 states when the ledger received an event and who
-- submitted it: queries filter and order by the receive time, and filter
-- by the submitting token. The rows indexed before this step hold version 1
-- leaves, which say neither: the defaults are what a version 1 leaf
-- indexes as. Adding a column with a constant default is a change of the
-- catalogue only; the new index is built once.
ALTER TABLE index_entries
	ADD COLUMN received BIGINT NOT NULL DEFAULT 0,
	ADD COLUMN submitter_type TEXT NOT NULL DEFAULT '',
	ADD COLUMN submitter_token_id TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS index_entries_received ON index_entries (received, log_index)
