package importrules

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/ledger-dev/ledger/"

// A pattern is an import path, or a path ending in "/..." for it and
// everything below it (as go list takes them).
var (
	sqlDrivers = []string{"github.com/jackc/pgx/...", "modernc.org/sqlite/...", "database/sql"}
	router     = "github.com/go-chi/chi/..."
)

// rules are the import directions: each package, with everything it links,
// must link no forbidden pattern, and, where only is set, no package of this
// module but those (and itself).
var rules = []struct {
	pkg       string // relative to the module
	forbidden []string
	only      []string
	why       string
}{
	{pkg: "tiles", only: []string{}, forbidden: append([]string{router}, sqlDrivers...),
		why: "third parties import tiles; it depends on nothing of the server"},
	{pkg: "evidence", only: []string{"tiles", "internal/durable"}, forbidden: append([]string{router}, sqlDrivers...),
		why: "the verifier reads evidence packages"},
	{pkg: "cmd/verifier", only: []string{"tiles", "evidence", "internal/durable", "internal/version", "internal/progress"}, forbidden: append([]string{router}, sqlDrivers...),
		why: "the verifier trusts nothing of the server's code"},
	{pkg: "internal/durable", only: []string{}, why: "the verifier links it"},
	{pkg: "internal/progress", only: []string{}, why: "the verifier links it"},
	{pkg: "ledger/blob", only: []string{"internal/durable"}, forbidden: append([]string{router}, sqlDrivers...),
		why: "the blob store is one small job: objects by name, nothing of the log"},
	{pkg: "ledger/blob/s3", only: []string{"ledger/blob", "internal/durable"}, forbidden: append([]string{router}, sqlDrivers...),
		why: "the S3 blob store knows S3 and the blob contract, nothing of the log"},
	{pkg: "ledger/storage/bucket", only: []string{"ledger", "ledger/blob", "ledger/storage/postgres", "internal/durable", "internal/pgschema", "tiles"},
		forbidden: []string{router}, why: "the object-storage driver is tiles in a blob store plus PostgreSQL sequencing, nothing else"},
	{pkg: "ledger/mirror", only: []string{"ledger/blob", "tiles", "internal/durable"}, forbidden: append([]string{router}, sqlDrivers...),
		why: "a mirror copies and verifies tiles between stores; it trusts nothing of the server"},
	{pkg: "ledger/archive", only: []string{"ledger/blob", "ledger/mirror", "tiles", "internal/durable"}, forbidden: append([]string{router}, sqlDrivers...),
		why: "the archive copies and verifies tiles through the mirror's copier; it trusts nothing of the server"},
	{pkg: "ledger", forbidden: append([]string{module + "ledger/witness/...", module + "ledger/httpapi/...", module + "ledger/index/...", router}, sqlDrivers...),
		why: "the core of the write side links no witness store, transport or index"},
	{pkg: "ledger/event", forbidden: []string{"net/http", module + "ledger"},
		why: "the event pipeline knows no transport and no sequencer"},
	{pkg: "ledger/subjectkey", only: []string{"internal/jsonfile", "internal/lockfile", "internal/durable"}, forbidden: append([]string{router}, sqlDrivers...),
		why: "the subject key store keeps wrapped keys, nothing of the log"},
	{pkg: "ledger/subjectkey/postgres", only: []string{"ledger/subjectkey", "internal/pgschema", "internal/jsonfile", "internal/lockfile", "internal/durable"}, forbidden: []string{router},
		why: "the PostgreSQL key store is the key store's contract over its own tables, nothing of the log"},
	{pkg: "ledger/index", forbidden: sqlDrivers, why: "the index's core is apart from its drivers"},
	{pkg: "ledger/httpapi", forbidden: append([]string{module + "ledger/index/sqlite", module + "ledger/index/postgres", module + "ledger/storage/..."}, sqlDrivers...),
		why: "the HTTP surface is apart from storage and index drivers"},
	{pkg: "ledger/scrub", only: []string{"tiles"}, forbidden: append([]string{router}, sqlDrivers...),
		why: "the scrub checks what storage holds through the verifying client alone"},
	{pkg: "ledger/retention", only: []string{}, forbidden: append([]string{router, "net/http"}, sqlDrivers...),
		why: "the retention policy is pure: periods, globs and rules, nothing of the log or its stores"},
	{pkg: "ledger/prune", forbidden: append([]string{router, module + "ledger/storage/...", module + "ledger/index/sqlite", module + "ledger/index/postgres", module + "ledger/httpapi"}, sqlDrivers...),
		why: "pruning decides and acts through the storage's and the index's interfaces, whichever drivers serve them"},
	{pkg: "internal/sqlitetx", only: []string{}, forbidden: []string{"modernc.org/sqlite/..."},
		why: "a helper of the SQLite stores over database/sql, linking no driver itself"},
	{pkg: "ledger/console", forbidden: append([]string{module + "ledger/storage/...", module + "ledger/index/sqlite", module + "ledger/index/postgres"}, sqlDrivers...),
		why: "the console is a page that reads through the API; its handler serves assets and links no storage"},
	{pkg: "internal/browsertest", only: []string{}, why: "test support: a browser, nothing of the server"},
	{pkg: "audit", forbidden: append([]string{module + "ledger/httpapi", module + "ledger/storage/...", module + "ledger/index/...", router}, sqlDrivers...),
		why: "applications import the SDK; it links no part of the server"},
	{pkg: "audit/audittest", forbidden: []string{"github.com/jackc/pgx/..."},
		why: "SDK users import it in their tests: it runs the embedded posix ledger, whose key index is SQLite (pure Go), and needs no PostgreSQL"},
}

func TestImportRules(t *testing.T) {
	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			for _, dep := range deps(t, module+r.pkg) {
				for _, f := range r.forbidden {
					if matches(f, dep) {
						t.Errorf("%s links %s: %s", r.pkg, dep, r.why)
					}
				}
				if r.only == nil || dep == module+r.pkg || !strings.HasPrefix(dep, module) {
					continue
				}
				if !slices.Contains(r.only, strings.TrimPrefix(dep, module)) {
					t.Errorf("%s links %s; from this module it may link only %q: %s", r.pkg, dep, r.only, r.why)
				}
			}
		})
	}
}

// TestRulesCanFail checks the matching on packages known to break the
// rules, so that a rule never passes because it matches nothing.
func TestRulesCanFail(t *testing.T) {
	for _, c := range []struct{ pkg, pattern string }{
		{"ledger/storage/postgres", "github.com/jackc/pgx/..."},
		{"ledger/index/sqlite", "modernc.org/sqlite/..."},
		{"ledger/index/sqlite", "database/sql"},
		{"ledger/httpapi", router},
		{"cmd/witness", module + "ledger/witness/..."},
	} {
		if !slices.ContainsFunc(deps(t, module+c.pkg), func(dep string) bool { return matches(c.pattern, dep) }) {
			t.Errorf("%s links nothing matching %s", c.pkg, c.pattern)
		}
	}
	if matches("database/sql", "database/sql/driver") {
		t.Error(`"database/sql" matches database/sql/driver`)
	}
}

// matches reports whether the import path dep matches pattern.
func matches(pattern, dep string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
		return dep == prefix || strings.HasPrefix(dep, prefix+"/")
	}
	return dep == pattern
}

// deps returns the import paths pkg links, itself included, as `go list
// -deps` prints them.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath", pkg).Output()
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, exit.Stderr)
	} else if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var paths []string
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct{ ImportPath string }
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list -deps %s printed %v", pkg, err)
		}
		paths = append(paths, p.ImportPath)
	}
	if len(paths) < 5 {
		t.Fatalf("go list -deps %s printed only %d packages", pkg, len(paths))
	}
	return paths
}
