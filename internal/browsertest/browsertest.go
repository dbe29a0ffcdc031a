// Package browsertest starts a real headless Chromium for tests, driven
// through the DevTools protocol by chromedp. scripts/test installs Debian's
// chromium package; a test on a machine without it fails and says so.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// candidates are the names Chromium's binary has on Debian and elsewhere.
var candidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// New starts a headless Chromium with a fresh profile and returns a
// context for chromedp actions in its first tab, ended after timeout or
// with the test. Chromium is $LEDGER_CHROMIUM if set, else the first of
// chromium, chromium-browser, google-chrome on PATH.
func New(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	bin := os.Getenv("LEDGER_CHROMIUM")
	for _, c := range candidates {
		if bin != "" {
			break
		}
		if p, err := exec.LookPath(c); err == nil {
			bin = p
		}
	}
	if bin == "" {
		t.Fatalf("no Chromium found (looked for %v on PATH and $LEDGER_CHROMIUM): install it with `apt-get install -y chromium`, as scripts/test does", candidates)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // tests run as root in CI
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first action starts the browser, which lives as long as the
	// context of that call: it must not carry the timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("couldn't start Chromium %s: %v", bin, err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancelTimeout)
	return ctx
}

// Problems collects, from the call on, what the page in ctx reports as
// wrong: uncaught exceptions and unhandled rejections, and errors of the
// browser's log other than failed requests (which tests provoke), such as a
// Content-Security-Policy violation. The func returns them so far.
func Problems(ctx context.Context) func() []string {
	var mu sync.Mutex
	var found []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || (m.Type == "error" && m.Source != "network") {
				mu.Lock()
				found = append(found, m.String())
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(found)
	}
}
