package s3test_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ledger-dev/ledger/internal/s3test"
	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/blob/s3"
)

// TestServer starts versitygw, makes a bucket with Object Lock, writes to
// it through blob/s3 with the credentials Start put in the environment, and
// finds the object again after a restart.
func TestServer(t *testing.T) {
	srv := s3test.Start(t)
	cfg := srv.Bucket(t, "locked", s3test.BucketOptions{ObjectLock: true})
	lock, err := srv.Client().GetObjectLockConfiguration(t.Context(), &awss3.GetObjectLockConfigurationInput{Bucket: aws.String("locked")})
	if err != nil {
		t.Fatal(err)
	}
	if lock.ObjectLockConfiguration == nil || lock.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled {
		t.Fatalf("object lock configuration %+v, want enabled", lock.ObjectLockConfiguration)
	}
	st, err := s3.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(t.Context(), "a", []byte("kept"), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if _, err := st.Get(t.Context(), "a"); err == nil {
		t.Fatal("Get from a stopped server succeeded")
	}
	srv.Restart(t)
	if b, err := st.Get(t.Context(), "a"); err != nil || string(b) != "kept" {
		t.Fatalf("Get after restart: %q, %v", b, err)
	}
}
