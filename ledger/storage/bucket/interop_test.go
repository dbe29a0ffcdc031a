package bucket_test

import (
	"bytes"
	"fmt"
	"net/url"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/fsck"
	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/internal/pgtest"
	"github.com/ledger-dev/ledger/internal/s3test"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/blob/s3"
	"github.com/ledger-dev/ledger/ledger/storage/storagetest"
	"github.com/ledger-dev/ledger/tiles/tilestest"
)

// TestTesseraReadsBucket has Tessera's client (another tlog-tiles
// implementation) read a log the driver wrote to a real S3 bucket, over
// the bucket's own HTTP endpoint: the checkpoint, entries with their
// inclusion proofs, and fsck, which recomputes every tile from the
// bundles.
func TestTesseraReadsBucket(t *testing.T) {
	srv := s3test.Start(t)
	objects, err := s3.Open(t.Context(), srv.Bucket(t, "interop", s3test.BucketOptions{PublicRead: true}))
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, objects, pgtest.New(t))
	signer, vkey := storagetest.NewSigner(t, "example.com/bucket-interop")
	l := storagetest.NewLedger(t, s, nil, signer)
	const size = 5000
	entry := func(i int) []byte { return fmt.Appendf(nil, "interop entry %d", i) }
	for from := 0; from < size; from += 700 { // several flushes, so partial tiles are replaced by wider ones
		var batch []ledger.Entry
		for i := from; i < min(from+700, size); i++ {
			batch = append(batch, ledger.Entry{Leaf: entry(i)})
		}
		if _, err := l.Append(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	ctx := t.Context()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := url.Parse(srv.URL("interop"))
	hf, err := client.NewHTTPFetcher(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	cp, _, _, err := client.FetchCheckpoint(ctx, hf.ReadCheckpoint, v, signer.Name())
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != size {
		t.Fatalf("tessera read a checkpoint of size %d, want %d", cp.Size, size)
	}
	pb, err := client.NewProofBuilder(ctx, cp.Size, hf.ReadTile)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint64{0, 255, 256, 2999, size - 1} {
		bundle, err := client.GetEntryBundle(ctx, hf.ReadEntryBundle, i/256, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		e := bundle.Entries[i%256]
		if !bytes.Equal(e, entry(int(i))) {
			t.Fatalf("tessera read entry %d as %q", i, e)
		}
		p, err := pb.InclusionProof(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, cp.Size, rfc6962.DefaultHasher.HashLeaf(e), p, cp.Hash); err != nil {
			t.Fatalf("inclusion of %d: %v", i, err)
		}
	}
	if err := fsck.New(signer.Name(), v, hf, tilestest.LeafHashes, fsck.Opts{N: 2}).Check(ctx); err != nil {
		t.Fatalf("tessera fsck of the bucket: %v", err)
	}
}
