-- Pruning the log's left edge (docs/retention.md): log_pruned is how far
-- the log is pruned, log_prunes the record of every prune, and log_prune()
-- the one way entry bundles are deleted. Hash tiles are never deleted.

-- log_pruned is the minimum index (a multiple of 256: whole bundles are
-- pruned) and the archive the pruned entries were copied to. One row,
-- forward-only. deleted_below is how far the bundles kept outside the
-- database (in the bucket driver's bucket) are deleted: the driver deletes
-- them after log_prune() recorded the minimum index, and moves it up to
-- the minimum index when it is done.
CREATE TABLE log_pruned (
    only_row      boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    minimum_index bigint      NOT NULL CHECK (minimum_index >= 0 AND minimum_index % 256 = 0),
    archive       jsonb,
    deleted_below bigint      NOT NULL DEFAULT 0 CHECK (deleted_below <= minimum_index),
    pruned_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO log_pruned (minimum_index) VALUES (0);

CREATE TRIGGER log_pruned_never_deleted
    BEFORE DELETE OR TRUNCATE ON log_pruned
    FOR EACH STATEMENT EXECUTE FUNCTION log_append_only('minimum indexes');

CREATE FUNCTION log_pruned_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.minimum_index < OLD.minimum_index OR NEW.deleted_below < OLD.deleted_below THEN
        RAISE EXCEPTION 'ledger: the minimum index only moves forward'
            USING DETAIL = format('minimum index %s to %s refused', OLD.minimum_index, NEW.minimum_index),
                  ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER log_pruned_forward_only
    BEFORE UPDATE ON log_pruned
    FOR EACH ROW EXECUTE FUNCTION log_pruned_forward_only();

-- log_prunes records every prune: the range, the archive, how many bundle
-- rows it deleted, by whom and when. Append-only.
CREATE TABLE log_prunes (
    id                     bigserial   PRIMARY KEY,
    previous_minimum_index bigint      NOT NULL,
    minimum_index          bigint      NOT NULL,
    archive                jsonb,
    bundles_deleted        bigint      NOT NULL,
    pruned_by              text        NOT NULL DEFAULT current_user,
    pruned_at              timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER log_prunes_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON log_prunes
    FOR EACH STATEMENT EXECUTE FUNCTION log_append_only('prune records');

-- Entry bundles stay append-only, except for the DELETE of log_prune():
-- a DELETE is refused unless the transaction recorded a prune in
-- log_prunes, and then for every row not below the recorded minimum index.
DROP TRIGGER log_bundles_append_only ON log_bundles;
CREATE TRIGGER log_bundles_append_only
    BEFORE UPDATE OR TRUNCATE ON log_bundles
    FOR EACH STATEMENT EXECUTE FUNCTION log_append_only('entry bundles');

CREATE FUNCTION log_bundles_delete_audited() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM log_prunes WHERE xmin = pg_current_xact_id()::xid) THEN
        RAISE EXCEPTION 'ledger: entry bundles are append-only; only log_prune() deletes pruned ones'
            USING DETAIL = format('%s on %s refused', TG_OP, TG_TABLE_NAME),
                  ERRCODE = 'restrict_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER log_bundles_delete_audited
    BEFORE DELETE ON log_bundles
    FOR EACH STATEMENT EXECUTE FUNCTION log_bundles_delete_audited();

CREATE FUNCTION log_bundles_delete_pruned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.idx >= (SELECT minimum_index FROM log_pruned) / 256 THEN
        RAISE EXCEPTION 'ledger: entry bundle % is not below the minimum index', OLD.idx
            USING DETAIL = format('%s on %s refused', TG_OP, TG_TABLE_NAME),
                  ERRCODE = 'restrict_violation';
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER log_bundles_delete_pruned
    BEFORE DELETE ON log_bundles
    FOR EACH ROW EXECUTE FUNCTION log_bundles_delete_pruned();

-- log_prune moves the minimum index to new_minimum (with the archive
-- pointer new_archive, or NULL), records the prune in log_prunes, and
-- deletes the entry bundles below it, in one transaction. It refuses a
-- minimum index that is not a multiple of 256, beyond the committed size,
-- or below the recorded one. It returns how many bundle rows it deleted.
CREATE FUNCTION log_prune(new_minimum bigint, new_archive jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    committed bigint;
    previous  bigint;
    doomed    bigint;
BEGIN
    IF new_minimum < 0 OR new_minimum % 256 <> 0 THEN
        RAISE EXCEPTION 'ledger: minimum index % is not a multiple of 256', new_minimum
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT minimum_index INTO previous FROM log_pruned FOR UPDATE;
    committed := coalesce((SELECT size FROM log_state), 0);
    IF new_minimum > committed THEN
        RAISE EXCEPTION 'ledger: minimum index % is beyond the committed size %', new_minimum, committed
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF new_minimum < previous THEN
        RAISE EXCEPTION 'ledger: minimum index % is below the recorded one, %: it never goes down', new_minimum, previous
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    doomed := (SELECT count(*) FROM log_bundles WHERE idx < new_minimum / 256);
    INSERT INTO log_prunes (previous_minimum_index, minimum_index, archive, bundles_deleted)
        VALUES (previous, new_minimum, new_archive, doomed);
    UPDATE log_pruned SET minimum_index = new_minimum, archive = new_archive, pruned_at = now();
    IF doomed > 0 THEN
        DELETE FROM log_bundles WHERE idx < new_minimum / 256;
    END IF;
    RETURN doomed;
END
$$;
