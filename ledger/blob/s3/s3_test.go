package s3_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ledger-dev/ledger/internal/s3test"
	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/blob/blobtest"
	"github.com/ledger-dev/ledger/ledger/blob/s3"
)

func TestContract(t *testing.T) {
	srv := s3test.Start(t)
	var n atomic.Int32
	blobtest.Run(t, func(t *testing.T) blob.Store {
		cfg := srv.Bucket(t, fmt.Sprintf("contract-%d", n.Add(1)), s3test.BucketOptions{})
		st, err := s3.Open(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

// TestPrefix runs the contract under a prefix of a bucket that holds other
// objects: they are neither listed nor touched.
func TestPrefix(t *testing.T) {
	srv := s3test.Start(t)
	cfg := srv.Bucket(t, "shared", s3test.BucketOptions{})
	other, err := s3.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Put(t.Context(), "logs-x/checkpoint", []byte("other"), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	blobtest.Run(t, func(t *testing.T) blob.Store {
		c := cfg
		c.Prefix = fmt.Sprintf("logs/%d", n.Add(1))
		st, err := s3.Open(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
	if b, err := other.Get(t.Context(), "logs-x/checkpoint"); err != nil || string(b) != "other" {
		t.Fatalf("object outside the prefix: %q, %v", b, err)
	}
}

// TestHeaders checks that the content type and cache control of a Put are
// what the bucket serves over plain HTTP, to an unsigned reader.
func TestHeaders(t *testing.T) {
	srv := s3test.Start(t)
	cfg := srv.Bucket(t, "public", s3test.BucketOptions{PublicRead: true})
	st, err := s3.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(t.Context(), "tile/0/000", []byte("tile"), blob.PutOptions{ContentType: "application/octet-stream", CacheControl: "public, max-age=31536000, immutable"}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL("public") + "tile/0/000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != "tile" {
		t.Fatalf("unsigned GET: %s %q", resp.Status, b)
	}
	if got := resp.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("Cache-Control %q", got)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/octet-stream" {
		t.Errorf("Content-Type %q", got)
	}
}

func TestOpenErrors(t *testing.T) {
	srv := s3test.Start(t)
	if _, err := s3.Open(t.Context(), s3.Config{}); err == nil {
		t.Fatal("Open without a bucket succeeded")
	}
	_, err := s3.Open(t.Context(), s3.Config{Bucket: "missing", Endpoint: srv.Endpoint, PathStyle: true})
	if err == nil || !strings.Contains(err.Error(), "couldn't reach bucket missing") {
		t.Fatalf("Open of a missing bucket: %v", err)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	cfg := srv.Bucket(t, "creds", s3test.BucketOptions{})
	if _, err := s3.Open(t.Context(), cfg); err == nil {
		t.Fatal("Open with a wrong secret key succeeded")
	}
}

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want s3.Config
	}{
		{"s3://logs", s3.Config{Bucket: "logs"}},
		{"s3://logs/prod/eu", s3.Config{Bucket: "logs", Prefix: "prod/eu"}},
		{"s3://logs?endpoint=http://127.0.0.1:7070&region=eu-west-1&path_style=true",
			s3.Config{Bucket: "logs", Endpoint: "http://127.0.0.1:7070", Region: "eu-west-1", PathStyle: true}},
	} {
		got, err := s3.ParseURL(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
		if back, err := s3.ParseURL(got.URL()); err != nil || back != got {
			t.Errorf("ParseURL(%q.URL()) = %+v, %v", c.in, back, err)
		}
	}
	for _, bad := range []string{"", "http://logs", "s3://", "s3://logs?endpont=x", "s3://logs?path_style=maybe", "s3://logs?endpoint=127.0.0.1:7070", "s3://u@logs"} {
		if _, err := s3.ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) succeeded", bad)
		}
	}
}

// FuzzParseURL checks that a bucket URL that parses comes back from its
// URL form unchanged, and names a valid bucket configuration.
func FuzzParseURL(f *testing.F) {
	f.Add("s3://logs/prod?endpoint=http://127.0.0.1:7070&region=eu-west-1&path_style=true")
	f.Add("s3://logs")
	f.Add("s3://a/b/../c?path_style=0")
	f.Fuzz(func(t *testing.T, raw string) {
		cfg, err := s3.ParseURL(raw)
		if err != nil {
			return
		}
		if cfg.Bucket == "" {
			t.Fatalf("ParseURL(%q) has no bucket", raw)
		}
		back, err := s3.ParseURL(cfg.URL())
		if err != nil || back != cfg {
			t.Fatalf("ParseURL(%q) = %+v; its URL %q parses as %+v, %v", raw, cfg, cfg.URL(), back, err)
		}
	})
}
