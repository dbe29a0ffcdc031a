package pgtest

import "testing"

// Shutdown is a PostgreSQL shutdown mode (pg_ctl stop -m MODE).
type Shutdown int

// The shutdown modes, as PostgreSQL names them.
const (
	// Fast rolls back open transactions and ends the sessions (SIGINT).
	Fast Shutdown = iota + 1
	// Immediate exits at once, without a checkpoint: the next start
	// recovers from the WAL, as after a crash (SIGQUIT).
	Immediate
)

func (m Shutdown) String() string {
	switch m {
	case Fast:
		return "fast"
	case Immediate:
		return "immediate"
	}
	return "unknown"
}

// Cluster is a throwaway PostgreSQL cluster of one test's own, which the
// test may stop and start again: a database restart while clients use it.
// It is always started here from the PostgreSQL binaries, also when
// LEDGER_TEST_POSTGRES names a server, since a shared server cannot be
// restarted under the other tests.
type Cluster struct {
	c *cluster
}

// NewCluster starts a cluster for t, stopped and removed when t ends.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := startCluster()
	if err != nil {
		t.Fatalf("pgtest: couldn't start a PostgreSQL cluster for the test: %v\n"+
			"run ./scripts/test (it installs PostgreSQL on Debian), or install postgresql (apt-get install postgresql)", err)
	}
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return &Cluster{c: c}
}

// DSN returns the DSN of the cluster's postgres database. It stays valid
// across restarts: the server comes back on the same port.
func (c *Cluster) DSN() string { return c.c.dsn("postgres") }

// Stop shuts the server down in mode and waits until it has exited.
func (c *Cluster) Stop(mode Shutdown) error { return c.c.shutdown(mode) }

// Start starts the stopped server again on its port and returns once it
// accepts connections (after crash recovery, following Immediate).
func (c *Cluster) Start() error { return c.c.startPostgres() }
