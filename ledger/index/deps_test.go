package index_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies enforces that the index's core, and the packages that
// read an index through it (the HTTP API, and with it the audit SDK), link
// no SQL driver: the drivers live in ledger/index/sqlite and
// ledger/index/postgres, which only main packages and tests import.
func TestDependencies(t *testing.T) {
	for _, pkg := range []string{".", "../httpapi", "../../audit", "../../audit/audittest"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s printed only %d packages: %q", pkg, len(deps), out)
		}
		for _, dep := range deps {
			if strings.HasPrefix(dep, "github.com/jackc/pgx") || strings.HasPrefix(dep, "modernc.org/sqlite") ||
				dep == "database/sql" || strings.HasPrefix(dep, "github.com/ledger-dev/ledger/ledger/index/") {
				t.Errorf("%s links %s", pkg, dep)
			}
		}
	}
}
