-- The persistent idempotency-key index: the key of every keyed entry, with
-- the entry's index and leaf hash, written by Commit in the flush's
-- transaction. The primary key is the unique constraint that refuses a key
-- logged twice.
CREATE TABLE log_keys (
    key  bytea  PRIMARY KEY,
    idx  bigint NOT NULL CHECK (idx >= 0),
    hash bytea  NOT NULL CHECK (length(hash) = 32)
);
ALTER TABLE log_keys ALTER COLUMN hash SET STORAGE PLAIN;

CREATE TRIGGER log_keys_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON log_keys
    FOR EACH STATEMENT EXECUTE FUNCTION log_append_only('idempotency keys');

-- log_keys_backfill is how far the keys of the entries committed before
-- log_keys existed have been written: those of [0, size) are in log_keys,
-- those of [size, upto) not yet (Open fills them in from the bundles). A
-- new log has nothing to fill in. One row, forward-only.
CREATE TABLE log_keys_backfill (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    size     bigint  NOT NULL CHECK (size >= 0),
    upto     bigint  NOT NULL CHECK (upto >= size)
);
INSERT INTO log_keys_backfill (size, upto) SELECT 0, coalesce((SELECT size FROM log_state), 0);

CREATE TRIGGER log_keys_backfill_never_deleted
    BEFORE DELETE OR TRUNCATE ON log_keys_backfill
    FOR EACH STATEMENT EXECUTE FUNCTION log_append_only('key backfills');
CREATE TRIGGER log_keys_backfill_forward_only
    BEFORE UPDATE ON log_keys_backfill
    FOR EACH ROW EXECUTE FUNCTION log_forward_only('key backfills');
