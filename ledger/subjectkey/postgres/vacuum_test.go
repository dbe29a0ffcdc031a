package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/ledger/subjectkey"
	"github.com/ledger-dev/ledger/ledger/subjectkey/subjectkeytest"
)

// TestDestroyVacuums checks that a destroyed key's row leaves the table,
// dead tuple included: Destroy vacuums subject_keys, so that no snapshot,
// dump or replica can read the wrapped key again.
func TestDestroyVacuums(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.New(t)
	s := open(t, dsn, subjectkeytest.MasterKey(t, 1), 0)
	for _, who := range []string{"alice", "bob"} {
		if _, _, err := s.Key(ctx, "acme", who, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	vacuums := func() (n int64) {
		t.Helper()
		if err := conn.QueryRow(ctx, `SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'subject_keys'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := vacuums()
	if _, err := s.Destroy(ctx, "acme", "bob", subjectkey.Why{Reason: "request"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n := vacuums(); n != before+1 {
		t.Fatalf("subject_keys was vacuumed %d times by Destroy, want once", n-before)
	}
	var live int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM subject_keys`).Scan(&live); err != nil || live != 1 {
		t.Fatalf("%d keys left, %v; want alice's", live, err)
	}
}
