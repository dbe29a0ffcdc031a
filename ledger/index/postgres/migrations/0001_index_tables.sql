CREATE TABLE IF NOT EXISTS index_entries (
			log_index BIGINT PRIMARY KEY,
			leaf_hash BYTEA NOT NULL,
			leaf BYTEA NOT NULL,
			id TEXT NOT NULL,
			ts BIGINT NOT NULL,
			tenant_id TEXT NOT NULL,
			event_type TEXT NOT NULL,
			action TEXT NOT NULL,
			actor_id TEXT NOT NULL,
			actor_type TEXT NOT NULL,
			resource_type TEXT NOT NULL,
			resource_id TEXT NOT NULL,
			result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS index_state (id INTEGER PRIMARY KEY CHECK (id = 1), size BIGINT NOT NULL);
INSERT INTO index_state (id, size) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
CREATE INDEX IF NOT EXISTS index_entries_actor ON index_entries (actor_id, ts, log_index);
CREATE INDEX IF NOT EXISTS index_entries_resource ON index_entries (resource_type, resource_id, ts, log_index);
CREATE INDEX IF NOT EXISTS index_entries_result ON index_entries (result, ts, log_index);
CREATE INDEX IF NOT EXISTS index_entries_tenant ON index_entries (tenant_id, ts, log_index);
CREATE INDEX IF NOT EXISTS index_entries_ts ON index_entries (ts, log_index)