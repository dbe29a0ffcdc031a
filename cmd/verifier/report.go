package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/schollz/progressbar/v3"

	"github.com/ledger-dev/ledger/internal/progress"
)

// report collects the outcome of each check and prints it: one line per check
// ("ok ..." or "FAIL: ..."), or with --json one JSON document at the end.
type report struct {
	out      io.Writer
	progress io.Writer // where a progress bar may go
	json     bool
	checks   []check
}

// check is one line of the report.
type check struct {
	Check  string         `json:"check"`
	OK     bool           `json:"ok"`
	Detail string         `json:"detail"`
	Data   map[string]any `json:"data,omitempty"`
}

func (r *report) ok(name, detail string, data map[string]any) {
	r.add(check{Check: name, OK: true, Detail: detail, Data: data})
}

func (r *report) fail(name string, err error) {
	r.add(check{Check: name, OK: false, Detail: err.Error()})
}

func (r *report) add(c check) {
	r.checks = append(r.checks, c)
	if r.json {
		return
	}
	if c.OK {
		fmt.Fprintf(r.out, "ok %s: %s\n", c.Check, c.Detail)
	} else {
		fmt.Fprintf(r.out, "FAIL: %s: %s\n", c.Check, c.Detail)
	}
}

// finish prints the JSON report if asked for and returns the exit status.
func (r *report) finish() int {
	allOK := len(r.checks) > 0
	for _, c := range r.checks {
		allOK = allOK && c.OK
	}
	if r.json {
		enc := json.NewEncoder(r.out)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			OK     bool    `json:"ok"`
			Checks []check `json:"checks"`
		}{allOK, r.checks})
	}
	if !allOK {
		return 1
	}
	return 0
}

// progressBar returns a bar of total leaves on the progress writer, drawn
// only when that is a terminal and the report is not JSON.
func (r *report) progressBar(total uint64) *progressbar.ProgressBar {
	w := r.progress
	if r.json {
		w = io.Discard
	}
	return progress.New(w, int64(total), "auditing")
}
