-- log_checkpoints is every checkpoint the ledger published, so that an entry
-- can be proven against the first checkpoint that covered it (whose
-- cosignatures bound when the entry existed). A size published again with
-- more cosignatures gets a new row; the latest row of a size is the one a
-- proof uses. Append-only, like the log.
CREATE TABLE log_checkpoints (
    id           bigserial   PRIMARY KEY,
    size         bigint      NOT NULL CHECK (size >= 0),
    checkpoint   bytea       NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX log_checkpoints_size ON log_checkpoints (size, id);

CREATE TRIGGER log_checkpoints_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON log_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION log_append_only('published checkpoints');

-- The checkpoint published before this step is the first of the history.
INSERT INTO log_checkpoints (size, checkpoint, published_at)
    SELECT size, checkpoint, published_at FROM log_published;
