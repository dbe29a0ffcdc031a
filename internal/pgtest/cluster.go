package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// superuser is the name of the cluster's superuser, whatever OS user runs it.
const superuser = "postgres"

// cluster is a throwaway PostgreSQL cluster in a temporary directory.
type cluster struct {
	dir    string // holds data/, the server log and the unix socket
	bin    string // the directory of initdb and postgres
	cred   *syscall.Credential
	port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed when the postgres process has exited
}

// startCluster runs initdb and starts postgres on a free port. A port taken
// between choosing and binding it is retried with another.
func startCluster() (*cluster, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := unprivileged()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("couldn't hand %s to the unprivileged user: %w", dir, err)
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-U", superuser, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir // the unprivileged user may not be able to enter ours
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb failed: %w\n%s", err, out)
	}
	c := &cluster{dir: dir, bin: bin, cred: cred}
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err == nil {
			c.port = port
			err = c.startPostgres()
		}
		if err == nil || attempt == 2 {
			if err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
			return c, nil
		}
	}
}

// startPostgres starts the server on c.port and waits until it accepts
// connections.
func (c *cluster) startPostgres() error {
	bin, dir, port, cred := c.bin, c.dir, c.port, c.cred
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	c.exited = make(chan struct{})
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"),
		"-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300",
		// Throwaway data: durability buys nothing here. synchronous_commit
		// stays on, as the PostgreSQL driver requires; without fsync it
		// costs little.
		"-c", "fsync=off", "-c", "full_page_writes=off")
	c.cmd.Stdout, c.cmd.Stderr, c.cmd.Dir = logFile, logFile, dir
	// Pdeathsig stops the server if the test binary dies without Main's
	// cleanup (a panic, a timeout, kill -9). Go sets it after switching to
	// the unprivileged user, so the switch does not clear it.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("couldn't start postgres: %w", err)
	}
	cmd, exited := c.cmd, c.exited
	go func() {
		cmd.Wait()
		close(exited)
	}()
	if err := c.waitReady(30 * time.Second); err != nil {
		c.cmd.Process.Kill()
		<-c.exited
		log, _ := os.ReadFile(logPath)
		return fmt.Errorf("%w; server log:\n%s", err, tail(log, 2000))
	}
	return nil
}

// shutdown stops the server with the signal of a PostgreSQL shutdown mode
// and waits until it has exited.
func (c *cluster) shutdown(mode Shutdown) error {
	sig := map[Shutdown]syscall.Signal{Fast: syscall.SIGINT, Immediate: syscall.SIGQUIT}[mode]
	if sig == 0 {
		return fmt.Errorf("unknown shutdown mode %d", mode)
	}
	if err := c.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("couldn't signal postgres: %w", err)
	}
	select {
	case <-c.exited:
		return nil
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("postgres did not shut down (%s) within 30s; killed it", mode)
	}
}

// waitReady polls until the server accepts connections.
func (c *cluster) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, c.dsn("postgres"))
		cancel()
		if err == nil {
			return conn.Close(context.Background())
		}
		select {
		case <-c.exited:
			return fmt.Errorf("postgres exited during start-up: %s", c.cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within %s: %w", limit, err)
		}
	}
}

// dsn returns the DSN of database name on the cluster.
func (c *cluster) dsn(name string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, c.port, name)
}

// stop shuts the server down at once (the data is thrown away) and removes
// the cluster's directory.
func (c *cluster) stop() error {
	c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("couldn't remove the cluster directory: %w", err)
	}
	return nil
}

// findBinDir returns the directory holding initdb and postgres: the one on
// PATH, else the newest /usr/lib/postgresql/*/bin (Debian keeps them off
// PATH).
func findBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("initdb was found neither on PATH nor in /usr/lib/postgresql/*/bin")
}

// versionOf returns the major version in /usr/lib/postgresql/<version>/bin.
func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// unprivileged returns the credentials to run the cluster with: nil unless
// the process is root, whom initdb and postgres refuse to run as; then the
// postgres user if it exists, else nobody.
func unprivileged() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, and neither a postgres nor a nobody user exists to run the cluster as")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return b
}
