package s3_test

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ledger-dev/ledger/internal/s3test"
	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/blob/s3"
)

// TestObjectLock checks, on the real server, that a Put with RetainUntil
// locks the object in compliance mode: the version cannot be deleted, its
// retention cannot be shortened, and an overwrite leaves it readable; and
// that a bucket without Object Lock is told apart at start.
func TestObjectLock(t *testing.T) {
	srv := s3test.Start(t)
	ctx := t.Context()
	cfg := srv.Bucket(t, "worm", s3test.BucketOptions{ObjectLock: true})
	st, err := s3.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CheckObjectLock(ctx); err != nil {
		t.Fatalf("CheckObjectLock of a bucket with Object Lock: %v", err)
	}
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if err := st.Put(ctx, "tile/entries/000", []byte("archived"), blob.PutOptions{RetainUntil: until}); err != nil {
		t.Fatalf("locked Put: %v", err)
	}
	c := srv.Client()
	key := aws.String("tile/entries/000")
	head, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("worm"), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if head.ObjectLockMode != types.ObjectLockModeCompliance || head.ObjectLockRetainUntilDate == nil || !head.ObjectLockRetainUntilDate.Equal(until) {
		t.Fatalf("the object's lock: mode %q until %v, want COMPLIANCE until %v", head.ObjectLockMode, head.ObjectLockRetainUntilDate, until)
	}
	version := head.VersionId
	if version == nil {
		t.Fatal("a locked object has no version id")
	}
	if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("worm"), Key: key, VersionId: version}); err == nil {
		t.Fatal("deleting the locked version succeeded")
	}
	if _, err := c.PutObjectRetention(ctx, &awss3.PutObjectRetentionInput{Bucket: aws.String("worm"), Key: key, VersionId: version,
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance, RetainUntilDate: aws.Time(until.Add(-30 * time.Minute))}}); err == nil {
		t.Fatal("shortening the retention of a compliance lock succeeded")
	}
	// In a versioned bucket an overwrite makes a new version and a delete
	// without a version id a delete marker: both succeed, and the locked
	// version stays, unchanged.
	if err := st.Put(ctx, "tile/entries/000", []byte("tampered"), blob.PutOptions{}); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	if err := st.Delete(ctx, "tile/entries/000"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	out, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("worm"), Key: key, VersionId: version})
	if err != nil {
		t.Fatalf("the locked version after an overwrite and a delete: %v", err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(b) != "archived" {
		t.Fatalf("the locked version holds %q, want %q", b, "archived")
	}

	plain, err := s3.Open(ctx, srv.Bucket(t, "plain", s3test.BucketOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.CheckObjectLock(ctx); !errors.Is(err, blob.ErrNoLock) {
		t.Fatalf("CheckObjectLock of a bucket without Object Lock: %v, want ErrNoLock", err)
	}
	if err := plain.Put(ctx, "x", []byte("x"), blob.PutOptions{RetainUntil: until}); err == nil {
		t.Fatal("a locked Put in a bucket without Object Lock succeeded")
	}
}
