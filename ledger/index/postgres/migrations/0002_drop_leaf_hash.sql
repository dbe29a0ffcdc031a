-- The leaf hash is the hash of the leaf: it is computed again when a row
-- is read, and no query filters on it. Dropping it is a change of the
-- catalogue only; the rows written before keep their bytes until they are
-- rewritten (VACUUM FULL, or a Rebuild).
ALTER TABLE index_entries DROP COLUMN leaf_hash
