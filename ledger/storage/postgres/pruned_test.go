package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
	"github.com/ledger-dev/ledger/tiles"
)

// TestPrunerContract runs the pruner contract. A torn prune is log_prune
// called in a transaction that never commits (the connection goes away
// with it), which leaves nothing recorded and nothing deleted.
func TestPrunerContract(t *testing.T) {
	storagetest.RunPruner(t, func(t *testing.T) storagetest.PrunerStore {
		dsn := pgtest.New(t)
		return storagetest.PrunerStore{
			Open: func(t *testing.T) ledger.Storage { return open(t, dsn) },
			Stored: func(t *testing.T, tl tiles.Tile) bool {
				conn := connect(t, dsn)
				var stored bool
				if err := conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM log_bundles WHERE idx = $1 AND width = $2)`,
					int64(tl.Index), int16(tl.Width)).Scan(&stored); err != nil {
					t.Fatal(err)
				}
				return stored
			},
			Tear: func(t *testing.T, p tiles.Pruned) {
				conn := connect(t, dsn)
				tx, err := conn.Begin(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				var n int64
				if err := tx.QueryRow(t.Context(), `SELECT log_prune($1, NULL)`, int64(p.MinimumIndex)).Scan(&n); err != nil {
					t.Fatal(err)
				}
				conn.Close(context.Background()) // dies before COMMIT
			},
		}
	})
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestPruneAudited checks that log_prune records each prune in log_prunes
// (range, rows deleted, by whom, when), and that the triggers still
// refuse every other DELETE of a bundle: a plain one, and one in a
// transaction that records a prune by hand but deletes a bundle at or
// above the minimum index.
func TestPruneAudited(t *testing.T) {
	ctx := t.Context()
	s := open(t, pgtest.New(t))
	l := newLog(t)
	for _, n := range []int{300, 700} {
		if err := s.Commit(ctx, l.next(entries("entry", n)...)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Prune(ctx, tiles.Pruned{MinimumIndex: 512}); err != nil {
		t.Fatal(err)
	}
	var prev, minimum, deleted int64
	var by string
	var recent bool
	if err := s.Pool().QueryRow(ctx, `SELECT previous_minimum_index, minimum_index, bundles_deleted, pruned_by, pruned_at > now() - interval '1 minute'
		FROM log_prunes`).Scan(&prev, &minimum, &deleted, &by, &recent); err != nil {
		t.Fatal(err)
	}
	// Bundles 0 and 1 full, and 1.p/44 from the first flush.
	if prev != 0 || minimum != 512 || deleted != 3 || by == "" || !recent {
		t.Fatalf("log_prunes row: previous %d, minimum %d, deleted %d, by %q, recent %v; want 0, 512, 3, a role, true", prev, minimum, deleted, by, recent)
	}
	for _, sql := range []string{
		`DELETE FROM log_bundles`,
		`DELETE FROM log_bundles WHERE idx = 3`,
		`DELETE FROM log_bundles WHERE false`,
	} {
		if _, err := s.Pool().Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "ledger: entry bundles are append-only") {
			t.Errorf("%s: %v, want it refused", sql, err)
		}
	}
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `INSERT INTO log_prunes (previous_minimum_index, minimum_index, bundles_deleted) VALUES (512, 512, 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM log_bundles WHERE idx = 2`); err == nil || !strings.Contains(err.Error(), "is not below the minimum index") {
		t.Errorf("a DELETE above the minimum index: %v, want it refused", err)
	}
	tx.Rollback(ctx)
	for _, sql := range []string{`DELETE FROM log_prunes`, `DELETE FROM log_pruned`, `UPDATE log_pruned SET minimum_index = 0`} {
		if _, err := s.Pool().Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "ledger:") {
			t.Errorf("%s: %v, want it refused", sql, err)
		}
	}
	for _, n := range []uint64{2, 3} {
		bt, _ := tiles.BundleFor(n, 1000)
		if _, err := s.ReadTile(ctx, bt); err != nil {
			t.Errorf("bundle %d after the refused statements: %v", n, err)
		}
	}
}
