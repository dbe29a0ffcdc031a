// Package progress draws the progress bars of the long commands (ledger
// export, index rebuild and verify, bench fill, mirror; verifier audit),
// shown only on a terminal so that piped or logged output stays clean.
package progress

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// New returns a progress bar of total entries (-1: unknown) on w, labelled
// what. It draws nothing unless w is a terminal.
func New(w io.Writer, total int64, what string) *progressbar.ProgressBar {
	f, ok := w.(*os.File)
	visible := ok && term.IsTerminal(int(f.Fd()))
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetVisibility(visible),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("entries"),
		progressbar.OptionThrottle(200 * time.Millisecond),
		progressbar.OptionSetPredictTime(true),
	}
	if visible { // Finish calls it even when the bar is not shown
		opts = append(opts, progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
	}
	return progressbar.NewOptions64(total, opts...)
}
