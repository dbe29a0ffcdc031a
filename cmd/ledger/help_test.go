package main_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestHelpAndVersion runs --help of every command of the three binaries
// and --version of each: help goes to standard output with exit status 0
// and lists the command's own flags (and not another subcommand's), and the
// version names the program and the Go toolchain.
func TestHelpAndVersion(t *testing.T) {
	ledgerBin, verifierBin, witnessBin := buildBinaries(t)
	for _, tc := range []struct {
		bin     string
		args    []string
		want    []string
		notWant []string
	}{
		{ledgerBin, []string{"--help"}, []string{"usage: ledger <command>", "keygen", "serve", "token", "append", "bench", "index", "export", "query"}, nil},
		{ledgerBin, []string{"help"}, []string{"usage: ledger <command>"}, nil},
		{ledgerBin, []string{"keygen", "--help"}, []string{"usage: ledger keygen", "-origin", "-key"}, nil},
		{ledgerBin, []string{"serve", "--help"}, []string{"usage: ledger serve", "-data", "-listen", "-config", "-tokens string", "-witness-policy", "-tls-cert"}, []string{"-tokens ledger"}},
		{ledgerBin, []string{"token", "--help"}, []string{"usage: ledger token create|list|revoke"}, nil},
		{ledgerBin, []string{"token", "create", "--help"}, []string{"usage: ledger token create", "-role", "-tenant", "-expires", "-no-store", "-data"}, nil},
		{ledgerBin, []string{"token", "list", "--help"}, []string{"usage: ledger token list", "-data", "-tokens"}, []string{"-role", "-expires", "-no-store", "create:"}},
		{ledgerBin, []string{"token", "revoke", "--help"}, []string{"usage: ledger token revoke", "-data", "ID"}, []string{"-role", "-expires", "-no-store"}},
		{ledgerBin, []string{"append", "--help"}, []string{"usage: ledger append", "-url", "-wait", "-batch", "-attempts", "-token token"}, nil},
		{ledgerBin, []string{"bench", "--help"}, []string{"usage: ledger bench", "-concurrency", "bench fill --help"}, nil},
		{ledgerBin, []string{"bench", "fill", "--help"}, []string{"usage: ledger bench fill", "-entries", "-event-bytes"}, []string{"-concurrency"}},
		{ledgerBin, []string{"retention", "--help"}, []string{"usage: ledger retention show", "--config FILE", "GET /v1/admin/retention"}, nil},
		{ledgerBin, []string{"retention", "show", "--help"}, []string{"-config FILE", "-url URL", "-json", "-token"}, nil},
		{ledgerBin, []string{"prune", "--help"}, []string{"usage: ledger prune --url URL", "ledger prune --dry-run --data DIR", "-dry-run", "-url URL", "-data DIR", "-config FILE", "-postgres URL"}, nil},
		{ledgerBin, []string{"archive", "--help"}, []string{"usage: ledger archive", "-url URL", "-token", "-json", "POST /v1/admin/archive"}, nil},
		{ledgerBin, []string{"index", "--help"}, []string{"usage: ledger index rebuild|verify"}, nil},
		{ledgerBin, []string{"index", "rebuild", "--help"}, []string{"-data", "-postgres", "-vkey"}, nil},
		{ledgerBin, []string{"index", "verify", "--help"}, []string{"-data", "-keys", "-log"}, nil},
		{ledgerBin, []string{"export", "--help"}, []string{"usage: ledger export", "-out", "-from", "-since", "-actor-id"}, nil},
		{ledgerBin, []string{"query", "--help"}, []string{"usage: ledger query", "-actor-id", "-limit", "-cursor", "-all", "-json", "-proof", "-vkey"}, nil},
		{ledgerBin, []string{"--version"}, []string{"ledger ", " go1."}, nil},
		{verifierBin, []string{"--help"}, []string{"usage: verifier <command>"}, nil},
		{verifierBin, []string{"checkpoint", "--help"}, []string{"usage: verifier checkpoint", "-state", "-vkey", "-policy"}, nil},
		{verifierBin, []string{"inclusion", "--help"}, []string{"usage: verifier inclusion", "-index", "-proof-out"}, nil},
		{verifierBin, []string{"consistency", "--help"}, []string{"usage: verifier consistency", "-old"}, nil},
		{verifierBin, []string{"audit", "--help"}, []string{"usage: verifier audit", "-workers"}, nil},
		{verifierBin, []string{"proof", "--help"}, []string{"usage: verifier proof", "-leaf"}, []string{"-log"}},
		{verifierBin, []string{"export", "--help"}, []string{"usage: verifier export", "-json"}, []string{"-log"}},
		{verifierBin, []string{"--version"}, []string{"verifier ", " go1."}, nil},
		{witnessBin, []string{"--help"}, []string{"usage: witness <command>"}, nil},
		{witnessBin, []string{"keygen", "--help"}, []string{"usage: witness keygen", "-name", "-key"}, nil},
		{witnessBin, []string{"serve", "--help"}, []string{"usage: witness serve", "-logs", "-state", "-postgres", "-listen"}, nil},
		{witnessBin, []string{"--version"}, []string{"witness ", " go1."}, nil},
	} {
		name := tc.bin[strings.LastIndexByte(tc.bin, '/')+1:] + " " + strings.Join(tc.args, " ")
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(tc.bin, tc.args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatal(err)
			}
			t.Errorf("%s: exit status %d, want 0\n%s%s", name, ee.ExitCode(), stdout.String(), stderr.String())
			continue
		}
		if stderr.Len() > 0 {
			t.Errorf("%s: wrote to standard error:\n%s", name, stderr.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("%s: output does not say %q:\n%s", name, w, stdout.String())
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(stdout.String(), w) {
				t.Errorf("%s: output says %q:\n%s", name, w, stdout.String())
			}
		}
	}
}

// TestOperationsUnit checks the systemd unit of docs/operations.md: every
// flag of its ExecStart is a flag of ledger serve.
func TestOperationsUnit(t *testing.T) {
	ledgerBin, _, _ := buildBinaries(t)
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ExecStart=\S+ serve (.*)$`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/operations.md has no ExecStart=... serve line")
	}
	help, err := exec.Command(ledgerBin, "serve", "--help").Output()
	if err != nil {
		t.Fatal(err)
	}
	flags := regexp.MustCompile(`--([a-z-]+)`).FindAllSubmatch(m[1], -1)
	if len(flags) < 3 {
		t.Fatalf("ExecStart has only %d flags: %s", len(flags), m[1])
	}
	for _, f := range flags {
		if !regexp.MustCompile(`(?m)^  -` + string(f[1]) + `\b`).Match(help) {
			t.Errorf("the unit's ExecStart gives --%s, which ledger serve does not have", f[1])
		}
	}
	if bytes.Contains(m[1], []byte("--init")) {
		t.Error("the unit's ExecStart has --init: a wrong --data would start a new log")
	}
}
