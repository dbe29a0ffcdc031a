package progress

import (
	"bytes"
	"os"
	"testing"
)

// TestQuietWhenNotATerminal: a bar on a buffer or a pipe draws nothing.
func TestQuietWhenNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	bar := New(&buf, 100, "testing")
	bar.Add(50)
	bar.Finish()
	if buf.Len() != 0 {
		t.Errorf("a bar on a buffer wrote %q", buf.String())
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	bar = New(w, -1, "testing")
	bar.Add(7)
	bar.Finish()
	w.Close()
	var got bytes.Buffer
	got.ReadFrom(r)
	if got.Len() != 0 {
		t.Errorf("a bar on a pipe wrote %q", got.String())
	}
}
