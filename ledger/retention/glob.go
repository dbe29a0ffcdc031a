package retention

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// A glob matches names (tenant IDs, event types) where "*" stands for any
// run of characters, also none: "auth.*" matches "auth.login", "*" matches
// every name, including the empty tenant of an event without one. Every
// other character stands for itself.
type glob string

// maxGlob bounds a glob's bytes.
const maxGlob = 256

func (g glob) validate() error {
	if len(g) > maxGlob || !utf8.ValidString(string(g)) {
		return fmt.Errorf("%q must be valid UTF-8 of at most %d bytes", g, maxGlob)
	}
	return nil
}

// matches reports whether name is one of the names g matches.
func (g glob) matches(name string) bool { return overlap(string(g), name, false) }

// overlaps reports whether some name matches both g and h, which says two
// rules can apply to the same event.
func (g glob) overlaps(h glob) bool { return overlap(string(g), string(h), true) }

// overlap reports whether a (a glob) and b (a glob if bGlob, else a name)
// have a common match, by dynamic programming over positions: the state
// (i, j) asks whether a[i:] and b[j:] still can. Both are at most maxGlob
// bytes (names can be longer: they are bounded by the event limits), so
// the table stays small.
func overlap(a, b string, bGlob bool) bool {
	seen := make(map[[2]int]bool)
	var rec func(i, j int) bool
	rec = func(i, j int) bool {
		if i == len(a) && j == len(b) {
			return true
		}
		k := [2]int{i, j}
		if v, ok := seen[k]; ok {
			return v
		}
		var v bool
		switch {
		case i < len(a) && a[i] == '*':
			v = rec(i+1, j) || (j < len(b) && rec(i, j+1))
		case bGlob && j < len(b) && b[j] == '*':
			v = rec(i, j+1) || (i < len(a) && rec(i+1, j))
		case i < len(a) && j < len(b):
			v = a[i] == b[j] && rec(i+1, j+1)
		}
		seen[k] = v
		return v
	}
	if !strings.Contains(a, "*") && !bGlob {
		return a == b
	}
	return rec(0, 0)
}
