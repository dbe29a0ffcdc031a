package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
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

// progressBar draws a progress bar on the progress writer when it is a
// terminal (and the report is not JSON); otherwise it draws nothing.
type progressBar struct {
	w     io.Writer
	total uint64
	start time.Time
	last  time.Time
}

func (r *report) newProgressBar(total uint64) *progressBar {
	f, ok := r.progress.(*os.File)
	if !ok || r.json {
		return nil
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &progressBar{w: f, total: total, start: time.Now()}
}

func (p *progressBar) update(done uint64) {
	if p == nil || p.total == 0 {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond && done < p.total {
		return
	}
	p.last = now
	const width = 40
	filled := int(done * width / p.total)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < filled {
			bar[i] = '#'
		}
	}
	rate := float64(done) / now.Sub(p.start).Seconds()
	fmt.Fprintf(p.w, "\r[%s] %d/%d leaves %3d%% %.0f leaves/s", bar, done, p.total, done*100/p.total, rate)
	if done >= p.total {
		fmt.Fprintln(p.w)
	}
}
