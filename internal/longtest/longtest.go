// Package longtest scales the suite's long-running tests: by default they run
// a reduced number of cycles that keeps the whole suite within minutes on a
// 2-core machine; with LEDGER_LONG_TESTS=1 in the environment they run the
// full counts an acceptance run reports.
package longtest

import "os"

// EnvVar is the environment variable that turns the full counts on.
const EnvVar = "LEDGER_LONG_TESTS"

// Enabled reports whether the full counts were asked for.
func Enabled() bool { return os.Getenv(EnvVar) != "" && os.Getenv(EnvVar) != "0" }

// Count returns full when long tests are enabled and short otherwise.
func Count(short, full int) int {
	if Enabled() {
		return full
	}
	return short
}
