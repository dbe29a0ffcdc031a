// Package pgtest gives each test a fresh database on a real PostgreSQL
// server.
//
// If LEDGER_TEST_POSTGRES is set, it is the DSN of a server where the tests
// may CREATE DATABASE (for example postgres://postgres@127.0.0.1:5432/postgres).
// Otherwise the first New starts a throwaway cluster for the whole test
// binary: initdb into a temporary directory, postgres on a free 127.0.0.1
// port, fsync off. When the tests run as root, the cluster runs as the
// postgres user (or nobody), since initdb refuses to run as root.
//
// A package that uses New stops the cluster from its TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// When PostgreSQL can be neither found nor started, New fails the test: the
// PostgreSQL tests are never skipped. ./scripts/test installs PostgreSQL on a
// Debian machine that lacks it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable with the DSN of an existing server.
const EnvDSN = "LEDGER_TEST_POSTGRES"

// server is the PostgreSQL server the test binary's databases live on.
type server struct {
	once    sync.Once
	admin   string   // DSN of a maintenance database where CREATE DATABASE runs
	cluster *cluster // the throwaway cluster, nil with EnvDSN
	err     error
}

// shared is the one server per test binary: starting a cluster costs about
// a second, a database a few tens of milliseconds.
var shared server

func (s *server) start() error {
	s.once.Do(func() {
		if dsn := os.Getenv(EnvDSN); dsn != "" {
			s.admin = dsn
			return
		}
		s.cluster, s.err = startCluster()
		if s.err == nil {
			s.admin = s.cluster.dsn("postgres")
		}
	})
	return s.err
}

// Main runs the tests and then stops the throwaway cluster, if New started
// one. Call it from TestMain; it does not return.
func Main(m *testing.M) {
	code := m.Run()
	if shared.cluster != nil {
		if err := shared.cluster.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
	os.Exit(code)
}

// New creates an empty database with a unique name and returns its DSN. The
// database is dropped when the test ends.
func New(t testing.TB) string {
	t.Helper()
	if err := shared.start(); err != nil {
		t.Fatalf("pgtest: no PostgreSQL server for the test: %v\n"+
			"run ./scripts/test (it installs PostgreSQL on Debian), or install postgresql (apt-get install postgresql), "+
			"or set %s to the DSN of a server where tests may CREATE DATABASE", err, EnvDSN)
	}
	name := databaseName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := adminExec(ctx, shared.admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: couldn't create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE ends the sessions of pools the test left open.
		if err := adminExec(ctx, shared.admin, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: couldn't drop database %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(shared.admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

func adminExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("couldn't connect to %s: %w", redact(dsn), err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// databaseName derives a unique, valid database name from a test name.
func databaseName(test string) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(test) {
		if b.Len() >= 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	b.WriteByte('_')
	b.WriteString(hex.EncodeToString(rnd[:]))
	return b.String()
}

// withDatabase returns dsn with its database replaced by name. dsn is a URL
// (postgres://...) or a keyword/value string (host=... dbname=...).
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("couldn't parse %s: %w", EnvDSN, err)
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	// In a keyword/value string, a later keyword overrides an earlier one.
	return dsn + " dbname=" + name, nil
}

// redact hides a password in a URL DSN, for error messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	if strings.Contains(dsn, "password") {
		return "(the configured DSN)"
	}
	return dsn
}
