package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ledger-dev/ledger/ledger/witness/witnesstest"
)

// TestCLIErrors checks that misuse gets a clear message and the right exit
// code: 2 for usage errors, 1 for failures.
func TestCLIErrors(t *testing.T) {
	s := newSetup(t, witnesstest.NewLog(t, "example.com/log"))
	state := filepath.Join(s.dir, "state")
	// A running witness holds its state directory.
	s.serve(t, "--listen", "127.0.0.1:0", "--state", state)
	badLogs := filepath.Join(s.dir, "bad-logs")
	os.WriteFile(badLogs, []byte("log not-a-vkey\n"), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: witness"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"keygen", "--name", "w"}, 2, "--name and --key are required"},
		{[]string{"keygen", "--name", "w", "--key", s.key}, 1, "already exists"},
		{[]string{"serve", "--key", s.key, "--logs", s.logs}, 2, "one of --state or --postgres"},
		{[]string{"serve", "--key", s.key, "--logs", s.logs, "--state", state, "--postgres", "postgres://x"}, 2, "one of --state or --postgres"},
		{[]string{"serve", "--key", s.key, "--logs", badLogs, "--state", state}, 2, "bad-logs"},
		{[]string{"serve", "--key", s.logs, "--logs", s.logs, "--state", state}, 2, "logs"},
		{[]string{"serve", "--key", s.key, "--logs", s.logs, "--state", state, "--listen", "127.0.0.1:0"}, 1, "in use by another witness"},
		{[]string{"serve", "--key", s.key, "--logs", s.logs, "--postgres", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"}, 1, "PostgreSQL"},
		{[]string{"serve", "--key", s.key, "--logs", s.logs, "--state", state, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"serve", "--frobnicate"}, 2, "see 'witness serve --help'"},
		{[]string{"--help"}, 0, "usage: witness <command>"},
		{[]string{"serve", "--help"}, 0, "-postgres"},
		{[]string{"keygen", "--help"}, 0, "usage: witness keygen [flags]"},
		{[]string{"--version"}, 0, "witness "},
	}
	for _, tc := range cases {
		out, code := runWitness(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("witness %s: exit %d, %q; want exit %d and %q", strings.Join(tc.args, " "), code, out, tc.code, tc.want)
		}
	}
}
