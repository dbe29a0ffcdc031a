// Package s3test runs a real S3-compatible server for tests: versitygw
// (github.com/versity/versitygw, its posix backend) over a temporary
// directory, on a free 127.0.0.1 port, with bucket versioning available
// (so that buckets with Object Lock can be made).
//
// The versitygw binary is found on PATH, else in $GOBIN or $GOPATH/bin,
// where ./scripts/test installs it (go install
// github.com/versity/versitygw/cmd/versitygw@v1.8.0). When it is missing,
// Start fails the test: the S3 tests are never skipped.
//
// Start sets the credential chain's environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_REGION) for the test, so code under test
// finds the server's credentials the way it would find real ones; Env
// gives the same to a child process.
package s3test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ledger-dev/ledger/ledger/blob/s3"
)

// Version is the versitygw release scripts/test installs.
const Version = "v1.8.0"

// The server's root credentials and region.
const (
	AccessKey = "ledgertest"
	SecretKey = "ledgertest-secret"
	Region    = "us-east-1"
)

// Server is a running versitygw.
type Server struct {
	// Endpoint is the server's URL, http://127.0.0.1:PORT.
	Endpoint string
	// Dir holds one directory per bucket (the objects as files).
	Dir string

	bin, port string
	root      string // the scratch directory: buckets, versions, log
	cmd       *exec.Cmd
	exited    chan struct{}
	client    *awss3.Client
}

// Binary returns the path of the versitygw binary, or an error saying how
// to install it.
func Binary() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
			dirs = append(dirs, filepath.Join(d, "bin"))
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("versitygw is not installed (looked on PATH and in %s): run ./scripts/test, which installs it, "+
		"or go install github.com/versity/versitygw/cmd/versitygw@%s", strings.Join(dirs, ", "), Version)
}

// Start starts a server for the test, stopped when the test ends, and sets
// the test's credential environment to it (so the test may not be
// parallel).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	root := t.TempDir()
	s := &Server{bin: bin, root: root, Dir: filepath.Join(root, "buckets")}
	for _, d := range []string{s.Dir, filepath.Join(root, "versions")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err == nil {
			err = s.start()
		}
		if err == nil {
			break
		}
		if attempt == 2 {
			t.Fatalf("s3test: %v", err)
		}
	}
	t.Cleanup(s.Stop)
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	// The SDK would read these files too: keep a developer's own
	// configuration out of the tests.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(root, "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(root, "no-credentials"))
	t.Setenv("AWS_PROFILE", "")
	s.client = awss3.New(awss3.Options{Region: Region, BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, "")})
	return s
}

func (s *Server) start() error {
	s.Endpoint = "http://127.0.0.1:" + s.port
	logFile, err := os.OpenFile(filepath.Join(s.root, "versitygw.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(s.bin, "--port", "127.0.0.1:"+s.port, "--health", "/health", "--quiet",
		"posix", "--versioning-dir", filepath.Join(s.root, "versions"), s.Dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey, "VGW_REGION="+Region)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The server dies with the test binary, even on kill -9 of it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("couldn't start %s: %w", s.bin, err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		cmd.Wait()
		close(exited)
	}(s.exited)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.Endpoint + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(filepath.Join(s.root, "versitygw.log"))
			return fmt.Errorf("versitygw exited during start-up: %s\n%s", cmd.ProcessState, log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("versitygw did not answer on %s within 20s: %v", s.Endpoint, err)
		}
	}
}

// Stop stops the server (SIGKILL: it keeps nothing in memory that a
// request was answered for). A stopped server may be restarted.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.exited:
	default:
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Restart starts a stopped server again on the same port, over the same
// buckets: a bucket that was unavailable and came back.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond) // the port may linger
	}
	t.Fatalf("s3test: restart: %v", err)
}

// Env returns the environment a child process needs to reach the server
// through the credential chain.
func (s *Server) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + AccessKey, "AWS_SECRET_ACCESS_KEY=" + SecretKey, "AWS_REGION=" + Region}
}

// BucketOptions are the options of a new bucket.
type BucketOptions struct {
	// ObjectLock creates the bucket with S3 Object Lock (and so
	// versioning) enabled.
	ObjectLock bool
	// PublicRead lets anyone GET its objects without signing: the bucket
	// is an HTTP endpoint, as behind a CDN.
	PublicRead bool
}

// Bucket creates a bucket and returns its configuration for blob/s3
// (path-style, at the server's endpoint).
func (s *Server) Bucket(t testing.TB, name string, opts BucketOptions) s3.Config {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in := &awss3.CreateBucketInput{Bucket: aws.String(name)}
	if opts.ObjectLock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := s.client.CreateBucket(ctx, in); err != nil {
		t.Fatalf("s3test: couldn't create bucket %s: %v", name, err)
	}
	if opts.PublicRead {
		policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",`+
			`"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/*"]}]}`, name)
		if _, err := s.client.PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: aws.String(name), Policy: aws.String(policy)}); err != nil {
			t.Fatalf("s3test: couldn't make bucket %s public: %v", name, err)
		}
	}
	return s3.Config{Bucket: name, Endpoint: s.Endpoint, Region: Region, PathStyle: true}
}

// Client returns an S3 client with the server's root credentials, for
// tests that check what the server holds (headers, object lock).
func (s *Server) Client() *awss3.Client { return s.client }

// URL returns the plain HTTP URL of a public bucket's objects (path-style),
// ending in "/": what a CDN would front.
func (s *Server) URL(bucket string) string { return s.Endpoint + "/" + bucket + "/" }

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", errors.New("no free port on 127.0.0.1")
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}
