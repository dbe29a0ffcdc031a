package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/ledger-dev/ledger/ledger/access"
)

// banner is what serve prints once it listens.
type banner struct {
	url, origin, vkey string
	policyFile        string // the --witness-policy file, or ""
	data, tokenFile   string
}

// announce prints where the ledger serves, its vkey, a verifier command
// that works from here, and whether access control is on, and logs the
// same.
func (b banner) announce(stdout io.Writer, log *slog.Logger, keyring *access.Keyring) {
	fmt.Fprintf(stdout, "ledger %s serving on %s\nlog vkey: %s\nverify it with:\n", b.origin, b.url, b.vkey)
	trust := fmt.Sprintf("--vkey '%s'", b.vkey)
	if b.policyFile != "" {
		// A verifier should want the witnesses' cosignatures too.
		trust = "--policy " + b.policyFile
	}
	fmt.Fprintf(stdout, "  %s audit --log %s %s\n", verifierCommand(), b.url, trust)
	if keyring.Enabled() {
		fmt.Fprintf(stdout, "access control is on: %d tokens (%s)\n", len(keyring.Tokens()), b.tokenFile)
	} else {
		fmt.Fprintf(stdout, "access control is OFF: anyone can append and read; it turns on within a second of the first token (ledger token create --data %s --role admin)\n", b.data)
		log.Warn("access control is off: no token file and no tokens in the configuration", "token_file", b.tokenFile)
	}
	log.Info("serving", "url", b.url, "origin", b.origin, "data", b.data, "access_control", keyring.Enabled())
}

// verifierCommand is how the verifier can be run here: the installed
// binary, else `go run ./cmd/verifier` in a checkout of this module, else
// `go run` of the module's path.
func verifierCommand() string {
	if _, err := exec.LookPath("verifier"); err == nil {
		return "verifier"
	}
	if _, err := os.Stat(filepath.Join("cmd", "verifier", "main.go")); err == nil {
		return "go run ./cmd/verifier"
	}
	return "go run github.com/ledger-dev/ledger/cmd/verifier@latest"
}
