package event

import "unicode/utf8"

// Clip cuts s to at most n bytes, at a rune boundary, and marks a cut with
// "…": for the reason or a tag of an event the ledger writes itself from
// text it does not control (an error message, a list of IDs), so that the
// event stays within the field limits.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
