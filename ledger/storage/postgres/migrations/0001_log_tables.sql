-- The log's tables: hash tiles, entry bundles, the committed state and the
-- published checkpoint. docs/postgres.md describes them.

-- log_tiles holds the hash tiles. A partial tile is its own row, keyed by its
-- width, so that no row ever changes: the tile at the next width is a new row.
CREATE TABLE log_tiles (
    level smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
    idx   bigint   NOT NULL CHECK (idx >= 0),
    width smallint NOT NULL CHECK (width BETWEEN 1 AND 256),
    data  bytea    NOT NULL CHECK (length(data) = 32 * width),
    PRIMARY KEY (level, idx, width)
);

-- log_bundles holds the entry bundles, keyed like log_tiles.
CREATE TABLE log_bundles (
    idx   bigint   NOT NULL CHECK (idx >= 0),
    width smallint NOT NULL CHECK (width BETWEEN 1 AND 256),
    data  bytea    NOT NULL,
    PRIMARY KEY (idx, width)
);

-- Hash tiles are random bytes: skip the attempt to compress them. Bundles of
-- JSON events compress well; lz4 (PostgreSQL 14+, when built with it) costs
-- a fraction of the default pglz's time, which otherwise dominates a commit.
ALTER TABLE log_tiles ALTER COLUMN data SET STORAGE EXTERNAL;
DO $$
BEGIN
    IF 'lz4' = ANY (SELECT unnest(enumvals) FROM pg_settings WHERE name = 'default_toast_compression') THEN
        ALTER TABLE log_bundles ALTER COLUMN data SET COMPRESSION lz4;
    END IF;
END
$$;

-- log_state is the committed state: one row, absent for a new log. Commit
-- moves it with a compare-and-swap (UPDATE ... WHERE size = old AND root =
-- old root); the row lock serialises writers.
CREATE TABLE log_state (
    only_row     boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    size         bigint      NOT NULL CHECK (size >= 0),
    root         bytea       NOT NULL CHECK (length(root) = 32),
    checkpoint   bytea       NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now()
);

-- log_published is the checkpoint served to readers: one row, absent until
-- the first publish. It only moves to a larger or equal size (an equal size
-- may gain cosignatures).
CREATE TABLE log_published (
    only_row     boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    size         bigint      NOT NULL CHECK (size >= 0),
    checkpoint   bytea       NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);

-- log_append_only refuses the statement it fires for. TG_ARGV[0] names what
-- the table holds. Statement-level, so it refuses even an UPDATE or DELETE
-- that matches no row, and TRUNCATE too.
CREATE FUNCTION log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % are append-only', TG_ARGV[0]
        USING DETAIL = format('%s on %s refused', TG_OP, TG_TABLE_NAME),
              ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER log_tiles_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON log_tiles
    FOR EACH STATEMENT EXECUTE FUNCTION log_append_only('tiles');
CREATE TRIGGER log_bundles_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON log_bundles
    FOR EACH STATEMENT EXECUTE FUNCTION log_append_only('entry bundles');
CREATE TRIGGER log_state_never_deleted
    BEFORE DELETE OR TRUNCATE ON log_state
    FOR EACH STATEMENT EXECUTE FUNCTION log_append_only('committed states');
CREATE TRIGGER log_published_never_deleted
    BEFORE DELETE OR TRUNCATE ON log_published
    FOR EACH STATEMENT EXECUTE FUNCTION log_append_only('published checkpoints');

-- log_forward_only refuses an UPDATE that moves a state or published
-- checkpoint to a smaller size, or to another root at the same size (for
-- log_state; log_published has no root column and may change cosignatures
-- at one size).
CREATE FUNCTION log_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.size < OLD.size THEN
        RAISE EXCEPTION 'ledger: % only move forward', TG_ARGV[0]
            USING DETAIL = format('size %s to %s refused on %s', OLD.size, NEW.size, TG_TABLE_NAME),
                  ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION log_same_root_at_same_size() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.size = OLD.size AND NEW.root <> OLD.root THEN
        RAISE EXCEPTION 'ledger: committed states only move forward'
            USING DETAIL = format('another root at size %s refused', OLD.size),
                  ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER log_state_forward_only
    BEFORE UPDATE ON log_state
    FOR EACH ROW EXECUTE FUNCTION log_forward_only('committed states');
CREATE TRIGGER log_state_same_root
    BEFORE UPDATE ON log_state
    FOR EACH ROW EXECUTE FUNCTION log_same_root_at_same_size();
CREATE TRIGGER log_published_forward_only
    BEFORE UPDATE ON log_published
    FOR EACH ROW EXECUTE FUNCTION log_forward_only('published checkpoints');
