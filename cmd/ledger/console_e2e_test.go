package main_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/internal/browsertest"
	"github.com/ledger-dev/ledger/ledger/access"
	"github.com/ledger-dev/ledger/tiles"
)

// tamperer is a real HTTP proxy in front of a real ledger that alters what
// the ledger serves, as a compromised server or a man in the middle would.
type tamperer struct {
	mode   atomic.Value // "", "bundle", "checkpoint", "rollback" or "fork"
	old    []byte       // the checkpoint served in "rollback" mode
	forged []byte       // the checkpoint served in "fork" mode
}

var (
	eventPath = regexp.MustCompile(`^/v1/events/[0-9]+$`)
	proofPath = regexp.MustCompile(`^/v1/proof/[0-9]+$`)
)

func (tp *tamperer) handler(t *testing.T, target string) http.Handler {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.Host = r.In.Host
		r.Out.Header.Del("Accept-Encoding") // the proxy edits plain bytes
	}}
	p.ModifyResponse = func(resp *http.Response) error {
		mode, _ := tp.mode.Load().(string)
		if mode == "" || resp.StatusCode != http.StatusOK {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		path := resp.Request.URL.Path
		switch {
		case mode == "bundle" && eventPath.MatchString(path):
			var ev map[string]any
			if err := json.Unmarshal(b, &ev); err != nil {
				return err
			}
			ev["leaf"] = base64.StdEncoding.EncodeToString(alterLeaf(ev["leaf"].(string)))
			ev["event"].(map[string]any)["result"] = "failure"
			b, _ = json.Marshal(ev)
		case mode == "bundle" && proofPath.MatchString(path):
			lines := strings.Split(string(b), "\n")
			if leaf, ok := strings.CutPrefix(lines[1], "extra "); ok {
				lines[1] = "extra " + base64.StdEncoding.EncodeToString(alterLeaf(leaf))
			}
			b = []byte(strings.Join(lines, "\n"))
		case mode != "bundle" && (path == "/checkpoint" || proofPath.MatchString(path)):
			b = tp.alterCheckpoint(mode, b, path != "/checkpoint")
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", fmt.Sprint(len(b)))
		return nil
	}
	return p
}

// alterLeaf turns a successful event into a failed one.
func alterLeaf(b64 string) []byte {
	leaf, _ := base64.StdEncoding.DecodeString(b64)
	return bytes.Replace(leaf, []byte(`"result":"success"`), []byte(`"result":"failure"`), 1)
}

// alterCheckpoint replaces the root hash of a checkpoint (mode
// "checkpoint"), or the whole checkpoint by an older one (mode "rollback")
// or a forged one (mode "fork"), in a checkpoint or in the checkpoint a
// tlog-proof ends with.
func (tp *tamperer) alterCheckpoint(mode string, b []byte, inProof bool) []byte {
	head, cp := []byte(nil), b
	if inProof {
		i := bytes.Index(b, []byte("\n\n"))
		head, cp = b[:i+2], b[i+2:]
	}
	switch mode {
	case "rollback":
		return append(head, tp.old...)
	case "fork":
		return append(head, tp.forged...)
	}
	lines := bytes.SplitN(cp, []byte("\n"), 4)
	lines[2] = []byte(base64.StdEncoding.EncodeToString(make([]byte, 32)))
	return append(head, bytes.Join(lines, []byte("\n"))...)
}

// page drives one Chromium tab.
type page struct {
	t   testing.TB
	ctx context.Context
}

func (p page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatal(err)
	}
}

// eval returns the JSON of a JavaScript expression's value.
func (p page) eval(expr string) string {
	p.t.Helper()
	b, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("%s: %v", expr, err)
	}
	return string(b)
}

// waitFor waits until a JavaScript expression is true.
func (p page) waitFor(expr string) {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for p.eval("!!("+expr+")") != "true" {
		if time.Now().After(deadline) {
			p.t.Fatalf("waited 15 s for %s; the page shows: %s", expr, p.eval("document.querySelector('main').innerText"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// show opens a route of the console and waits until the page it showed
// before is gone and ready is true.
func (p page) show(route, ready string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`document.querySelector("#view").firstElementChild?.setAttribute("data-old", ""); location.hash = %q`, route))
	p.waitFor(`!document.querySelector("#view > [data-old]") && (` + ready + `)`)
}

// checks returns the verification lines on the page, "status check: detail".
func (p page) checks() []string {
	var lines []string
	json.Unmarshal([]byte(p.eval(`[...document.querySelectorAll("li.check")].map((l) => l.dataset.status + " " + l.querySelector(".name").textContent + " " + l.lastChild.textContent)`)), &lines)
	return lines
}

func (p page) signIn(secret, ready string) {
	p.t.Helper()
	p.waitFor(`document.querySelector("#token")`)
	p.do(chromedp.SendKeys(chromedp.CSS("#token"), secret), chromedp.Click(chromedp.CSS("#signin button")))
	p.waitFor(ready)
}

// screenshot saves the viewport as docs/console/NAME.png, so that the
// pictures in docs/console.md are of the console as it is.
func (p page) screenshot(name string) {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "console", name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// TestConsoleE2E runs `ledger serve` with a witness and access control, and
// the console in a real headless Chromium: an auditor signs in, pins the
// log's policy, filters, opens an event and sees every check pass, exports
// an evidence package that `verifier export` accepts; behind a proxy that
// tampers with an entry or a checkpoint, rolls the checkpoint back or
// forks it, the page shows the failure; a reader of tenant a sees only
// tenant a, and its reads are in the log as audit.accessed events; a writer
// sees no events; an admin places a legal hold. The page must report no
// exception and no CSP violation throughout.
func TestConsoleE2E(t *testing.T) {
	ledgerBin, verifierBin, witnessBin := buildBinaries(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	logKey, logVKey := newLogKey(t, ledgerBin, dir, "example.com/console")
	logsFile := filepath.Join(dir, "logs")
	os.WriteFile(logsFile, []byte("log "+logVKey+"\n"), 0o644)
	wkey := filepath.Join(dir, "w0.key")
	out, code := runCmd(t, witnessBin, "keygen", "--name", "w0.example.com", "--key", wkey)
	if code != 0 {
		t.Fatalf("witness keygen: %s", out)
	}
	w := startWitnessProc(t, witnessBin, wkey, logsFile, filepath.Join(dir, "w0.state"), freeAddr(t))
	policy := fmt.Sprintf("log %s\nwitness w0 %s http://%s\nquorum w0\n", logVKey, strings.TrimSpace(out), w.addr)
	policyFile := filepath.Join(dir, "policy")
	os.WriteFile(policyFile, []byte(policy), 0o644)

	writer := newToken(t, ledgerBin, data, "--role", "writer")
	auditor := newToken(t, ledgerBin, data, "--role", "auditor", "--name", "console auditor")
	reader := newToken(t, ledgerBin, data, "--role", "reader", "--tenant", "a")
	admin := newToken(t, ledgerBin, data, "--role", "admin")
	srv := startServer(t, ledgerBin, "--data", data, "--key", logKey, "--witness-policy", policyFile,
		"--publish-interval", "50ms", "--witness-timeout", "2s", "--config", sealingConfig(t, t.TempDir()))

	appendN := func(from, to int) {
		var body strings.Builder
		for i := from; i < to; i++ {
			result := "success"
			if i%5 == 3 {
				result = "failure"
			} else if i%7 == 4 {
				result = "denied"
			}
			// Spread over the past 28 days, for the charts.
			ts := time.Now().Add(-time.Duration(40-i) * 17 * time.Hour).UTC().Format(time.RFC3339)
			// Event 0 has a reason, which is sealed: its leaf is of version 3,
			// and the console's package must hold it sealed to verify.
			reason := ""
			if i == 0 {
				reason = `,"reason":"sealed-reason-of-event-0"`
			}
			fmt.Fprintf(&body, `{"timestamp":%q,"tenant_id":%q,"event_type":"document.read","action":"read","actor":{"id":"user-%d","type":"user"},"resource":{"type":"document","id":"doc-%d"},"result":%q%s}`+"\n",
				ts, []string{"a", "b"}[i%2], i%4, i, result, reason)
		}
		req, _ := http.NewRequest("POST", srv.url+"v1/events?wait=cosigned", strings.NewReader(body.String()))
		req.Header.Set("Authorization", "Bearer "+writer)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("append: %s %s", resp.Status, b)
		}
	}
	appendN(0, 10)
	tp := &tamperer{}
	_, tp.old = call(t, http.DefaultClient, "GET", srv.url+"checkpoint", "", "")
	appendN(10, 40)
	proxy := httptest.NewServer(tp.handler(t, strings.TrimSuffix(srv.url, "/")))
	defer proxy.Close()

	p := page{t: t, ctx: browsertest.New(t, 2*time.Minute)}
	problems := browsertest.Problems(p.ctx)
	defer func() {
		for _, pr := range problems() {
			t.Errorf("the page reported: %s", pr)
		}
	}()
	os.MkdirAll(filepath.Join("..", "..", "docs", "console"), 0o755)

	// GET / leads to the console's sign-in; the auditor signs in and pins
	// the policy they were given (not the server's copy).
	p.do(chromedp.Navigate(proxy.URL + "/"))
	p.waitFor(`document.querySelector("#token")`)
	if loc := p.eval("location.pathname"); loc != `"/console/"` {
		t.Fatalf("GET / led to %s, want /console/", loc)
	}
	p.screenshot("signin")
	p.signIn(auditor, `document.querySelector("#nav-find")`)
	// Nothing pinned yet: nothing can be verified.
	p.show("#/event/8", `document.querySelector("#verdict")`)
	if lines := p.checks(); !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "fail trust: no log key is pinned") }) {
		t.Errorf("an event with nothing pinned: %q, want a failing trust line", lines)
	}
	p.show("#/trust", `document.querySelector("#pinned")`)
	p.do(chromedp.SetValue(chromedp.CSS("#pinned"), policy), chromedp.Click(chromedp.CSS("#pin-save")))
	p.waitFor(`document.querySelector("#pin-status").textContent === "pinned"`)
	p.show("#/health", `document.querySelector("#view h1")?.textContent === "Log health"`)
	p.show("#/trust", `document.querySelector("#trust-compare")`)
	if got := p.eval(`document.querySelector("#trust-compare").textContent`); !strings.Contains(got, "matches") {
		t.Errorf("trust page: %s, want the pinned policy to match the server's copy", got)
	}
	p.screenshot("trust")

	// Filter by actor: only that actor's events, each a link.
	p.show("#/find?actor_id=user-1", `document.querySelector("[data-testid=results] tbody tr")`)
	var actors []string
	json.Unmarshal([]byte(p.eval(`[...document.querySelectorAll("[data-testid=results] tbody tr")].map((r) => r.cells[5].textContent)`)), &actors)
	if len(actors) != 10 {
		t.Errorf("actor_id=user-1 shows %d rows, want 10: %v", len(actors), actors)
	}
	for _, a := range actors {
		if a != "user:user-1" {
			t.Errorf("actor_id=user-1 shows a row of %s", a)
		}
	}
	p.screenshot("find")
	// The events were sent with timestamps of the past 28 days and
	// received just now: the received-time window finds them, the event-time
	// window of the last hour does not.
	hourAgo := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	rows := `document.querySelectorAll("[data-testid=results] tbody tr").length`
	p.show("#/find?actor_id=user-1&time=received&since="+hourAgo, `document.querySelector("#result-summary")`)
	if n := p.eval(rows); n != "10" {
		t.Errorf("received in the last hour: %s rows, want 10", n)
	}
	p.show("#/find?actor_id=user-1&since="+hourAgo, `document.querySelector("#result-summary")`)
	if n := p.eval(rows); n != "0" {
		t.Errorf("event time in the last hour: %s rows, want 0", n)
	}
	// Paging: 20 events of tenant a, 15 a page.
	p.show("#/find?tenant_id=a&limit=15", `document.querySelector("#next-page")`)
	p.do(chromedp.Click(chromedp.CSS("#next-page")))
	p.waitFor(`location.hash.includes("cursor=") && document.querySelectorAll("[data-testid=results] tbody tr").length === 5`)

	// An event: every check passes.
	var indexes []int
	json.Unmarshal([]byte(p.eval(`[...document.querySelectorAll(".event-link")].map((a) => Number(a.textContent))`)), &indexes)
	p.do(chromedp.Click(chromedp.CSS(".event-link")))
	p.waitFor(`document.querySelector("#verdict")`)
	lines := p.checks()
	want := []string{"checkpoint signature", "witness w0", "quorum", "consistency", "inclusion", "event", "receipt index"}
	for _, l := range lines {
		if strings.HasPrefix(l, "fail") {
			t.Errorf("event %d: %s", indexes[0], l)
		}
	}
	for _, w := range want {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "ok "+w+":") }) {
			t.Errorf("event %d: no passing %q line in %q", indexes[0], w, lines)
		}
	}
	p.screenshot("event")
	p.show("#/look?split=actor", `document.querySelector("[data-testid=split]")`)
	var captions []string
	json.Unmarshal([]byte(p.eval(`[...document.querySelectorAll(".chart figcaption")].map((c) => c.textContent)`)), &captions)
	if len(captions) != 3 || !strings.HasPrefix(captions[0], "Events: ") || captions[1] != "Failures: 8" || captions[2] != "Denials: 5" {
		t.Errorf("activity charts: %q, want the events, 8 failures and 5 denials", captions)
	}
	if row := p.eval(`[...document.querySelectorAll("[data-testid=split] tr")].find((r) => r.cells[0].textContent === "user:user-3")?.innerText`); row != `"user:user-3\t10\t2\t2"` {
		t.Errorf("activity split by actor, user-3: %s, want 10 events, 2 failures, 2 denials", row)
	}
	p.screenshot("activity")
	p.show("#/health", `document.querySelector("#view h1")?.textContent === "Log health" && document.querySelector("li.check")`)
	for _, l := range p.checks() {
		if strings.HasPrefix(l, "fail") {
			t.Errorf("health: %s", l)
		}
	}
	p.screenshot("health")

	// Export tenant a as an evidence package, and check it with the verifier.
	dl := t.TempDir()
	if _, err := chromedp.CallBrowser(p.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl}); err != nil {
		t.Fatal(err)
	}
	p.show("#/find?tenant_id=a", `document.querySelector("#export")`)
	p.do(chromedp.Click(chromedp.CSS("#export")))
	p.waitFor(`document.querySelector("#export-status").textContent.startsWith("saved")`)
	pkg := untarDownload(t, dl)
	if out, code := runCmd(t, verifierBin, "export", pkg, "--policy", policyFile); code != 0 {
		t.Fatalf("verifier export of the console's package: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(filepath.Join(pkg, "events.ndjson")); bytes.Contains(b, []byte("sealed-reason-of-event-0")) || !bytes.Contains(b, []byte(`"sealed":{"kid"`)) {
		t.Errorf("the console's package does not hold event 0 sealed, as its leaf does:\n%s", b)
	}
	var m struct{ Count int }
	mb, _ := os.ReadFile(filepath.Join(pkg, "manifest.json"))
	if json.Unmarshal(mb, &m); m.Count != 20 {
		t.Errorf("the package of tenant a holds %d events, want 20", m.Count)
	}

	// With event keys, the package shows event 0's sealed reason in clear,
	// with the key that opens just that event (ledger-export/v2); the
	// verifier checks the plaintext against the leaf, and fails on one
	// changed byte of it.
	dl = t.TempDir()
	if _, err := chromedp.CallBrowser(p.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl}); err != nil {
		t.Fatal(err)
	}
	p.eval(`document.querySelector("#export-status").textContent = ""`) // still on the page of the first export
	p.do(chromedp.Click(chromedp.CSS("#export-keys")))
	p.do(chromedp.Click(chromedp.CSS("#export")))
	p.waitFor(`document.querySelector("#export-status").textContent.startsWith("saved")`)
	keyed := untarDownload(t, dl)
	if out, code := runCmd(t, verifierBin, "export", keyed, "--policy", policyFile); code != 0 {
		t.Fatalf("verifier export of the console's package with event keys: exit %d\n%s", code, out)
	}
	keyedRows, _ := os.ReadFile(filepath.Join(keyed, "events.ndjson"))
	mb, _ = os.ReadFile(filepath.Join(keyed, "manifest.json"))
	if !bytes.Contains(keyedRows, []byte("sealed-reason-of-event-0")) || !bytes.Contains(keyedRows, []byte(`"event_key":`)) || !bytes.Contains(mb, []byte(`"ledger-export/v2"`)) {
		t.Fatalf("the console's package with event keys does not show event 0 opened with its key:\n%s\n%s", mb, keyedRows)
	}
	if err := os.WriteFile(filepath.Join(keyed, "events.ndjson"), bytes.Replace(keyedRows, []byte("sealed-reason-of-event-0"), []byte("sealed-reason-of-event-9"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := runCmd(t, verifierBin, "export", keyed, "--policy", policyFile); code == 0 {
		t.Errorf("verifier export passed a package whose opened plaintext was changed:\n%s", out)
	}

	// Behind the tampering proxy, the page shows each failure.
	for i, c := range []struct{ mode, check, reason string }{
		{"bundle", "inclusion", "the entry or its proof was altered"},
		{"checkpoint", "checkpoint signature", "does not verify"},
		{"rollback", "consistency", "ROLLBACK"},
		{"fork", "consistency", "FORK"},
	} {
		if c.mode == "fork" {
			// The size this browser verified last, with another root.
			tp.forged = forge(t, logKey, wkey, p.eval(`JSON.parse(localStorage.getItem("ledger-console.state.example.com/console")).size`))
		}
		tp.mode.Store(c.mode)
		index := 12 + 2*i // tenant a, result success
		p.show(fmt.Sprintf("#/event/%d", index), `document.querySelector("#verdict")`)
		if v := p.eval(`document.querySelector("#verdict").className`); v != `"verdict fail"` {
			t.Errorf("%s: the verdict is %s, want it to fail", c.mode, v)
		}
		if lines := p.checks(); !slices.ContainsFunc(lines, func(l string) bool {
			return strings.HasPrefix(l, "fail "+c.check+":") && strings.Contains(l, c.reason)
		}) {
			t.Errorf("%s: no failing %q line saying %q in %q", c.mode, c.check, c.reason, lines)
		}
		if c.mode == "rollback" || c.mode == "fork" {
			var alarm string
			json.Unmarshal([]byte(p.eval(`document.querySelector("#alarm")?.innerText ?? ""`)), &alarm)
			shown := map[string][]byte{"rollback": tp.old, "fork": tp.forged}[c.mode]
			if !strings.Contains(alarm, map[string]string{"rollback": "rolled back", "fork": "forked"}[c.mode]) ||
				!strings.Contains(alarm, string(bytes.TrimSpace(shown))) || strings.Count(alarm, "example.com/console") < 4 {
				t.Errorf("%s alarm %s does not show both checkpoints", c.mode, alarm)
			}
		}
		if c.mode == "rollback" {
			p.screenshot("alarm")
		}
	}
	tp.mode.Store("")

	// A reader of tenant a sees only tenant a; another tenant's event is
	// refused.
	p.do(chromedp.Click(chromedp.CSS("#sign-out")))
	p.signIn(reader, `document.querySelector("[data-testid=results] tbody tr")`)
	var tenants []string
	json.Unmarshal([]byte(p.eval(`[...document.querySelectorAll("[data-testid=results] tbody tr")].map((r) => r.cells[2].textContent)`)), &tenants)
	if len(tenants) < 20 {
		t.Errorf("the reader sees %d events, want the 20 of tenant a and its own reads", len(tenants))
	}
	for _, tn := range tenants {
		if tn != "a" {
			t.Errorf("the reader of tenant a sees an event of tenant %q", tn)
		}
	}
	if p.eval(`document.querySelector("#f-tenant_id").disabled`) != "true" || p.eval(`!!document.querySelector("#export")`) != "false" {
		t.Error("the reader's tenant filter is not fixed, or it is offered an export")
	}
	p.show("#/event/13", `document.querySelector(".error")`)
	if e := p.eval(`document.querySelector(".error").textContent`); !strings.Contains(e, "403") {
		t.Errorf("the reader opening tenant b's event 13: %s, want a 403", e)
	}
	p.show("#/event/14", `document.querySelector("#verdict")`)
	if v := p.eval(`document.querySelector("#verdict").className`); v != `"verdict ok"` {
		t.Errorf("the reader's event 14: verdict %s, lines %q", v, p.checks())
	}
	// The reader's reads are audit.accessed events of its token (the
	// index shows them within a poll interval).
	type readerReads struct {
		Events []struct {
			Event struct {
				TenantID string            `json:"tenant_id"`
				Result   string            `json:"result"`
				Tags     map[string]string `json:"tags"`
			} `json:"event"`
		} `json:"events"`
	}
	wantReads := []string{"GET /v1/events success", "GET /v1/events/{index} success", "GET /v1/proof/{index} success", "GET /v1/events/{index} denied"}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, b := call(t, http.DefaultClient, "GET", srv.url+"v1/events?event_type=audit.accessed&actor_id=token:"+access.HashSecret(reader)[:16]+"&limit=1000", auditor, "")
		var got readerReads
		if code != 200 || json.Unmarshal(b, &got) != nil {
			t.Fatalf("query of the reader's reads: %d %s", code, b)
		}
		seen := map[string]bool{}
		for _, e := range got.Events {
			seen[e.Event.Tags["endpoint"]+" "+e.Event.Result] = true
			if e.Event.TenantID != "a" {
				t.Errorf("the reader's read is logged with tenant %q", e.Event.TenantID)
			}
		}
		missing := slices.DeleteFunc(slices.Clone(wantReads), func(w string) bool { return seen[w] })
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit.accessed events %q among the reader's: %v", missing, seen)
		}
	}

	// A writer sees no events; the health page is its home.
	p.do(chromedp.Click(chromedp.CSS("#sign-out")))
	p.signIn(writer, `document.querySelector("#view h1")?.textContent === "Log health"`)
	if p.eval(`!!document.querySelector("#nav-find") || !!document.querySelector("#nav-holds")`) != "false" {
		t.Error("the writer is offered Find or Legal holds")
	}

	// An admin sees no events, and places a legal hold.
	p.do(chromedp.Click(chromedp.CSS("#sign-out")))
	p.signIn(admin, `document.querySelector("[data-testid=holds]")`)
	if p.eval(`!!document.querySelector("#nav-find")`) != "false" {
		t.Error("the admin is offered Find")
	}
	p.do(chromedp.SetValue(chromedp.CSS(`#hold-form [name=tenant_id]`), "a"),
		chromedp.SetValue(chromedp.CSS(`#hold-form [name=reason]`), "case 2026-17"),
		chromedp.Click(chromedp.CSS("#hold-form button")))
	p.waitFor(`document.querySelector("[data-testid=holds]")?.innerText.includes("case 2026-17")`)
	p.screenshot("holds")
}

// forge signs, with the log's and the witness's own private keys (as a
// server that holds them could), a checkpoint of the given size whose root
// is not the log's: a fork.
func forge(t *testing.T, logKey, witnessKey, size string) []byte {
	t.Helper()
	read := func(f string) string {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	logSigner, err := note.NewSigner(read(logKey))
	if err != nil {
		t.Fatal(err)
	}
	cosigner, err := tiles.NewCosignatureSigner(read(witnessKey), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	root := sha256.Sum256([]byte("another tree"))
	body := fmt.Sprintf("%s\n%s\n%s\n", logSigner.Name(), size, base64.StdEncoding.EncodeToString(root[:]))
	cp, err := note.Sign(&note.Note{Text: body}, logSigner, cosigner)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// untarDownload waits for the console's .tar in dir, unpacks it there and
// returns the package directory it holds.
func untarDownload(t *testing.T, dir string) string {
	t.Helper()
	var name string
	for deadline := time.Now().Add(10 * time.Second); name == ""; time.Sleep(20 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.tar"))
		if len(files) == 1 {
			name = files[0]
		} else if time.Now().After(deadline) {
			t.Fatal("no .tar was downloaded")
		}
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var top string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		path := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(path, dir+string(filepath.Separator)) {
			t.Fatalf("%s: entry %s is outside the package", name, h.Name)
		}
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(path, 0o755)
			if top == "" {
				top = path
			}
			continue
		}
		b, _ := io.ReadAll(tr)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return top
}
