package audit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ledger-dev/ledger/audit"
	"github.com/ledger-dev/ledger/audit/audittest"
)

// BenchmarkMiddleware measures a small handler on a ServeMux route, called
// in process with an httptest.ResponseRecorder: bare, behind the fail-open
// middleware (a Recorder spooling to b.TempDir(), its sender shipping to a
// real ledger on 127.0.0.1) and behind the fail-closed one (each request
// waits for its event to be durable in the ledger). The middleware's
// sub-benchmarks report added-µs/op, their time per request less the bare
// one's, when "bare" ran first in the same run.
//
//	go test ./audit/ -run '^$' -bench BenchmarkMiddleware -benchtime 2s -count 3
func BenchmarkMiddleware(b *testing.B) {
	lg := audittest.Start(b, audittest.Config{})
	client, err := audit.New(b.Context(), audit.Config{URL: lg.URL})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /records/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"` + r.PathValue("id") + `","title":"a record"}`))
	})
	actor := func(r *http.Request) audit.Actor { return audit.Actor{ID: r.Header.Get("X-User"), Type: "user"} }
	var bare time.Duration // per request
	b.Run("bare", func(b *testing.B) {
		bare = benchServe(b, mux)
	})
	b.Run("recorder", func(b *testing.B) {
		rec, err := audit.NewRecorder(b.Context(), audit.RecorderConfig{Client: client, Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		reportAdded(b, benchServe(b, benchMiddleware(b, audit.MiddlewareConfig{Recorder: rec, Actor: actor})(mux)), bare)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// What the sender has not shipped by then stays in the spool, which
		// b.TempDir() removes.
		rec.Close(ctx)
	})
	b.Run("client", func(b *testing.B) {
		reportAdded(b, benchServe(b, benchMiddleware(b, audit.MiddlewareConfig{Client: client, Actor: actor})(mux)), bare)
	})
}

func benchMiddleware(b *testing.B, cfg audit.MiddlewareConfig) func(http.Handler) http.Handler {
	mw, err := audit.NewMiddleware(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return mw
}

// benchServe calls h with one request until b is done and returns the time
// per request.
func benchServe(b *testing.B, h http.Handler) time.Duration {
	b.ReportAllocs()
	req := httptest.NewRequest("GET", "/records/42", nil)
	req.Header.Set("X-User", "alice")
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) bench/1")
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	return b.Elapsed() / time.Duration(b.N)
}

// reportAdded reports the time per request beyond the bare handler's.
func reportAdded(b *testing.B, perOp, bare time.Duration) {
	if bare > 0 {
		b.ReportMetric(float64(perOp-bare)/float64(time.Microsecond), "added-µs/op")
	}
}
