package main_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTokenCommand checks `ledger token` on what a new user types: a
// lifetime in days, a bad lifetime, and listing a directory with no token
// file or no directory at all; the first token of a directory says what it
// turns on.
func TestTokenCommand(t *testing.T) {
	bin, _, _ := buildBinaries(t)
	data := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"list", "--data", data}, 0, "no tokens"},
		{[]string{"list", "--data", filepath.Join(data, "nonexist")}, 1, "no ledger data directory at " + filepath.Join(data, "nonexist")},
		{[]string{"create", "--data", data, "--role", "writer", "--expires", "30x"}, 2, `"30x" is not a lifetime such as 30d`},
		{[]string{"create", "--data", data, "--role", "writer", "--expires", "0d"}, 2, "number of days"},
		{[]string{"create", "--data", data, "--role", "writer", "--expires", "30d"}, 0, "expires " + time.Now().UTC().Add(30*24*time.Hour).Format("2006-01-02")},
		{[]string{"list", "--data", data}, 0, "writer"},
	} {
		out, code := runCmd(t, bin, append([]string{"token"}, tc.args...)...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("ledger token %s: exit %d, %q; want exit %d and %q", strings.Join(tc.args, " "), code, out, tc.code, tc.want)
		}
	}
	// The first token of a directory says that access control turns on;
	// the next does not repeat it.
	fresh := t.TempDir()
	if out, _ := runCmd(t, bin, "token", "create", "--data", fresh, "--role", "admin"); !strings.Contains(out, "tokens.json is new") || !strings.Contains(out, "turns access control on") {
		t.Errorf("the first token: %q", out)
	}
	if out, _ := runCmd(t, bin, "token", "create", "--data", fresh, "--role", "admin"); strings.Contains(out, "is new") {
		t.Errorf("the second token: %q", out)
	}
}
