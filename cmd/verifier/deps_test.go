package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies enforces that the verifier stays independent of the server
// code: from this module it links only tiles and evidence, and it links no
// database or HTTP-router library.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const module = "github.com/ledger-dev/ledger/"
	allowed := map[string]bool{module + "cmd/verifier": true, module + "tiles": true, module + "evidence": true}
	forbidden := []string{"github.com/jackc/pgx", "github.com/go-chi/chi", "modernc.org/sqlite", "database/sql"}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed only %d packages: %q", len(deps), out)
	}
	for _, dep := range deps {
		if strings.HasPrefix(dep, module) && !allowed[dep] {
			t.Errorf("verifier links %s; it may link only tiles and evidence from this module", dep)
		}
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("verifier links %s", dep)
			}
		}
	}
}
