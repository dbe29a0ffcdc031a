package evidence_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/evidence"
	"github.com/ledger-dev/ledger/tiles"
)

// Example writes the package of the format's example, a log of one entry
// exported whole, and checks it.
func Example() {
	skey, vkey, _ := note.GenerateKey(bytes.NewReader(make([]byte, 32)), "example.com/log")
	signer, _ := note.NewSigner(skey)
	leaf := []byte(`{"v":1,"id":"e1","timestamp":"2026-11-02T09:00:00Z","action":"read","actor":{"id":"alice","type":"user"},"resource":{"type":"doc"},"result":"success"}`)
	// The event the leaf encodes: the leaf without its version.
	event := []byte(`{"id":"e1","timestamp":"2026-11-02T09:00:00Z","action":"read","actor":{"id":"alice","type":"user"},"resource":{"type":"doc"},"result":"success"}`)
	cp := tiles.Checkpoint{Origin: "example.com/log", Size: 1, Hash: tiles.LeafHash(leaf)}
	signed, _ := note.Sign(&note.Note{Text: string(cp.Marshal())}, signer)

	dir := filepath.Join(os.TempDir(), "evidence-example")
	os.RemoveAll(dir)
	defer os.RemoveAll(dir)
	w, err := evidence.Create(dir)
	if err != nil {
		panic(err)
	}
	w.SetCheckpoint(signed, cp)
	w.Manifest.Created = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	w.Manifest.Range = &evidence.Range{From: 0, To: 1}
	// In a tree of one entry, the inclusion proof has no hashes.
	if err := w.Add(evidence.Row{Index: 0, LeafHash: cp.Hash.String(), Leaf: leaf, Event: event}, nil); err != nil {
		panic(err)
	}
	if err := w.Finish(); err != nil {
		panic(err)
	}
	for _, name := range []string{"manifest.json", "events.ndjson"} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		fmt.Printf("%s:\n%s\n", name, b)
	}

	pkg, err := evidence.Open(os.DirFS(dir))
	if err != nil {
		panic(err)
	}
	policy, _ := tiles.NewLogPolicy(vkey)
	sc, err := policy.Verify(pkg.Checkpoint)
	if err != nil {
		panic(err)
	}
	err = pkg.Check(sc, func(r evidence.Result) {
		if r.Err != nil {
			fmt.Printf("FAIL: %s: %v\n", r.Check, r.Err)
		} else {
			fmt.Printf("ok %s: %s\n", r.Check, r.Detail)
		}
	})
	fmt.Println("error:", err)
	// Output:
	// manifest.json:
	// {
	//   "format": "ledger-export/v1",
	//   "origin": "example.com/log",
	//   "tree_size": 1,
	//   "root_hash": "q/Gp2im9Uy5tFRJcE/AtYZVhBsHlDC4Iww6GE6MqqTU=",
	//   "created": "2026-11-02T10:00:00Z",
	//   "count": 1,
	//   "range": {
	//     "from": 0,
	//     "to": 1
	//   }
	// }
	//
	// events.ndjson:
	// {"index":0,"leaf_hash":"q/Gp2im9Uy5tFRJcE/AtYZVhBsHlDC4Iww6GE6MqqTU=","leaf":"eyJ2IjoxLCJpZCI6ImUxIiwidGltZXN0YW1wIjoiMjAyNi0xMS0wMlQwOTowMDowMFoiLCJhY3Rpb24iOiJyZWFkIiwiYWN0b3IiOnsiaWQiOiJhbGljZSIsInR5cGUiOiJ1c2VyIn0sInJlc291cmNlIjp7InR5cGUiOiJkb2MifSwicmVzdWx0Ijoic3VjY2VzcyJ9","event":{"id":"e1","timestamp":"2026-11-02T09:00:00Z","action":"read","actor":{"id":"alice","type":"user"},"resource":{"type":"doc"},"result":"success"}}
	//
	// ok events: all 1 events match their leaves, and each leaf is in the tree of size 1
	// ok range: every entry from 0 to 0 is in the package and proven: nothing in the range was left out
	// error: <nil>
}
