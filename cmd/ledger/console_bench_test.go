package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ledger-dev/ledger/internal/browsertest"
)

// BenchmarkConsole measures the web console in headless Chromium on a big
// log: the bytes a first load of the find page transfers (assets, and the
// API's answer), the time from navigation to the first page of results, and
// to the verdict of an event's page (every check of docs/console.md, the
// consistency proof built from the tiles included), and to the charts of
// the Activity page (up to 10,000 events of the window, ten queries). The
// log is $LEDGER_CONSOLE_BENCH_DATA, a data directory made by `ledger bench fill`
// (served with no tokens, so nothing is appended), or else a log of 10,000
// entries filled here.
//
//	ledger bench fill --data /tmp/1m --entries 1000000
//	LEDGER_CONSOLE_BENCH_DATA=/tmp/1m go test ./cmd/ledger -run '^$' -bench BenchmarkConsole -benchtime 10x
func BenchmarkConsole(b *testing.B) {
	ledgerBin, _, _ := buildBinaries(b)
	data := os.Getenv("LEDGER_CONSOLE_BENCH_DATA")
	if data == "" {
		data = b.TempDir()
		if out, code := runCmd(b, ledgerBin, "bench", "fill", "--data", data, "--entries", "10000"); code != 0 {
			b.Fatalf("ledger bench fill: %s", out)
		}
	}
	srv := startServer(b, ledgerBin, "--data", data)
	p := page{t: b, ctx: browsertest.New(b, 30*time.Minute)}
	p.do(chromedp.Navigate(srv.url + "console/#/trust"))
	p.waitFor(`document.querySelector("#pinned")`)
	p.eval(fmt.Sprintf(`localStorage.setItem("ledger-console.trust", %q)`, srv.vkey))

	// mark loads url as a new document and returns the milliseconds from
	// navigation to the page's performance mark.
	mark := func(url, name string) float64 {
		p.do(chromedp.Navigate("about:blank"), chromedp.Navigate(url))
		p.waitFor(fmt.Sprintf(`performance.getEntriesByName(%q).length || document.querySelector(".error")`, name))
		if e := p.eval(`document.querySelector(".error")?.textContent ?? ""`); e != `""` {
			b.Fatalf("%s: %s", url, e)
		}
		var ms float64
		json.Unmarshal([]byte(p.eval(fmt.Sprintf(`performance.getEntriesByName(%q)[0].startTime`, name))), &ms)
		return ms
	}
	var newest int
	yearAgo := time.Now().AddDate(-1, 0, 1).UTC().Format(time.RFC3339)
	for _, c := range []struct{ name, route string }{
		{"find", "#/find"}, // the last 30 days, newest first
		{"find-actor-year", "#/find?actor_id=user-3&since=" + yearAgo}, // one actor over a year
	} {
		b.Run(c.name, func(b *testing.B) {
			var total float64
			for i := 0; i < b.N; i++ {
				total += mark(srv.url+"console/"+c.route, "first-result")
			}
			b.ReportMetric(total/float64(b.N), "ms/first-result")
		})
	}
	b.Run("weight", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			mark(srv.url+"console/#/find", "first-result")
		}
		var sizes struct{ Assets, API, Files int }
		json.Unmarshal([]byte(p.eval(`(() => {
			const s = { assets: 0, api: 0, files: 0 };
			const nav = performance.getEntriesByType("navigation")[0];
			s.assets += nav.encodedBodySize; s.files++;
			for (const r of performance.getEntriesByType("resource")) {
				if (/^\/console\/(?!session$|trust$)/.test(new URL(r.name).pathname)) { s.assets += r.encodedBodySize; s.files++; } else s.api += r.encodedBodySize;
			}
			return s;
		})()`)), &sizes)
		b.ReportMetric(float64(sizes.Assets), "asset-bytes")
		b.ReportMetric(float64(sizes.Files), "asset-files")
		b.ReportMetric(float64(sizes.API), "api-bytes")
		json.Unmarshal([]byte(p.eval(`Number(document.querySelector(".event-link").textContent)`)), &newest)
	})
	b.Run("activity", func(b *testing.B) {
		var total float64
		for i := 0; i < b.N; i++ {
			total += mark(srv.url+"console/#/look?split=actor", "charts")
		}
		b.ReportMetric(total/float64(b.N), "ms/charts")
	})
	b.Run("event", func(b *testing.B) {
		var total float64
		for i := 0; i < b.N; i++ {
			total += mark(fmt.Sprintf("%sconsole/#/event/%d", srv.url, newest), "verified")
			if v := p.eval(`document.querySelector("#verdict").className`); !strings.Contains(v, "ok") {
				b.Fatalf("event %d: %s %q", newest, v, p.checks())
			}
		}
		b.ReportMetric(total/float64(b.N), "ms/verdict")
	})
}
