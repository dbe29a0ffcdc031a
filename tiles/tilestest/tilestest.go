// Package tilestest writes tlog-tiles logs to a directory, for tests, like
// net/http/httptest does servers.
//
// A Log is grown by Append, which writes exactly what a real log publishes
// for the new size: the entry bundles and hash tiles that changed (full ones,
// and the partial ones at the right edge of the tree) and a signed
// checkpoint. Partial tiles written for earlier sizes are left in place, as a
// log that serves every published checkpoint must, so a test can check
// consistency between any two checkpoints a Log returned.
//
// The tree is computed here from first principles, independently of the
// tiles package's Builder, Audit and proof code: every tree level is kept in
// memory, each tile is hashed pairwise with tiles.LeafHash and
// tiles.NodeHash, and the checkpoint's root comes from a compact range of all
// the leaf hashes built with the merkle package's own RFC 6962 hasher.
//
// Generate writes a large log of synthetic entries (see Entry) quickly: a
// million entries, about 290 MB, in a few seconds.
package tilestest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ledger-dev/ledger/tiles"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// NewKey returns a deterministic Ed25519 note signer for name, derived from
// the name alone, and its verifier key in vkey form
// (name+hex8(keyID)+base64(0x01‖pubkey)). Two calls with the same name return
// the same key. It is for tests only: anyone can derive the private key.
func NewKey(name string) (note.Signer, string) {
	seed := sha256.Sum256([]byte("tilestest key\n" + name))
	priv := ed25519.NewKeyFromSeed(seed[:])
	vkey, err := note.NewEd25519VerifierKey(name, priv.Public().(ed25519.PublicKey))
	if err != nil {
		panic(fmt.Sprintf("tilestest: bad key name %q: %v", name, err))
	}
	// vkey is name+hex8(hash)+base64(key); the signer key has the same
	// name and hash. (The base64 may itself contain a "+".)
	hash := vkey[len(name)+1 : len(name)+9]
	skey := "PRIVATE+KEY+" + name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, seed[:]...))
	s, err := note.NewSigner(skey)
	if err != nil {
		panic(fmt.Sprintf("tilestest: couldn't build signer for %q: %v", name, err))
	}
	return s, vkey
}

// Log is a tlog-tiles log being written to a directory. Its origin is the
// signer's name. It keeps every level of the tree in memory (32 bytes a
// leaf), which is fine for the sizes tests use. A Log is not safe for
// concurrent use.
type Log struct {
	dir    string
	signer note.Signer

	// rows[l] holds every complete node at tree level 8·l: rows[0] the leaf
	// hashes, rows[l+1][j] the root of the 256 nodes rows[l][256j:256j+256].
	rows [][]tiles.Hash
	// bundle holds the encoded entries of the last, incomplete bundle.
	bundle []byte
	// rng is the compact range [0, size) over the leaf hashes.
	rng        *compact.Range
	checkpoint []byte
}

// New returns an empty Log that writes to dir, which should be empty, and
// signs checkpoints with s. Nothing is written until the first Append.
func New(dir string, s note.Signer) *Log {
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	return &Log{dir: dir, signer: s, rows: [][]tiles.Hash{nil}, rng: rf.NewEmptyRange(0)}
}

// WriteLog writes a complete log holding entries to dir, signed by s, and
// returns its signed checkpoint.
func WriteLog(dir string, s note.Signer, entries [][]byte) ([]byte, error) {
	return New(dir, s).Append(entries...)
}

// Dir returns the directory the log is written to.
func (l *Log) Dir() string { return l.dir }

// Size returns the number of entries appended so far.
func (l *Log) Size() uint64 { return uint64(len(l.rows[0])) }

// Origin returns the log's origin, the signer's name.
func (l *Log) Origin() string { return l.signer.Name() }

// Checkpoint returns the signed checkpoint written by the last Append, or nil.
func (l *Log) Checkpoint() []byte { return l.checkpoint }

// Root returns the root hash of the tree of the current size.
func (l *Log) Root() tiles.Hash {
	if l.Size() == 0 {
		return tiles.EmptyRoot
	}
	root, err := l.rng.GetRootHash(nil)
	if err != nil {
		panic(fmt.Sprintf("tilestest: %v", err))
	}
	return tiles.Hash(root)
}

// LeafHash returns the leaf hash of entry index.
func (l *Log) LeafHash(index uint64) tiles.Hash { return l.rows[0][index] }

// Append adds entries to the log, writes the bundles and tiles that the new
// size needs and a new checkpoint (even if entries is empty), and returns the
// signed checkpoint. Files written for earlier sizes are left alone.
func (l *Log) Append(entries ...[]byte) ([]byte, error) {
	start := l.Size()
	return l.AppendFunc(uint64(len(entries)), func(i uint64) []byte { return entries[i-start] })
}

// AppendFunc is Append for n entries produced by entry, which is called in
// order with the index each entry gets in the log. It avoids holding all the
// entries in memory at once. After an error (an entry over
// tiles.MaxEntrySize, a failed write) the Log must not be used again.
func (l *Log) AppendFunc(n uint64, entry func(index uint64) []byte) ([]byte, error) {
	oldSize := l.Size()
	for range n {
		index := l.Size()
		e := entry(index)
		var err error
		if l.bundle, err = tiles.AppendEntry(l.bundle, e); err != nil {
			return nil, fmt.Errorf("entry %d: %w", index, err)
		}
		l.addLeaf(tiles.LeafHash(e))
		if l.Size()%tiles.TileWidth == 0 {
			t := tiles.Tile{Entries: true, Index: index / tiles.TileWidth, Width: tiles.TileWidth}
			if err := l.write(t.Path(), l.bundle); err != nil {
				return nil, err
			}
			l.bundle = l.bundle[:0]
		}
	}
	if w := tiles.PartialWidth(0, l.Size()); w > 0 && l.Size() != oldSize {
		t := tiles.Tile{Entries: true, Index: l.Size() / tiles.TileWidth, Width: w}
		if err := l.write(t.Path(), l.bundle); err != nil {
			return nil, err
		}
	}
	if err := l.writeTiles(oldSize); err != nil {
		return nil, err
	}
	return l.sign()
}

// addLeaf appends a leaf hash to level 0, and the root of every tile it
// completes to the level above.
func (l *Log) addLeaf(h tiles.Hash) {
	if err := l.rng.Append(h[:], nil); err != nil {
		panic(fmt.Sprintf("tilestest: %v", err))
	}
	for level := 0; ; level++ {
		if len(l.rows) == level {
			l.rows = append(l.rows, nil)
		}
		l.rows[level] = append(l.rows[level], h)
		row := l.rows[level]
		if len(row)%tiles.TileWidth != 0 {
			return
		}
		h = SubtreeRoot(row[len(row)-tiles.TileWidth:])
	}
}

// writeTiles writes the hash tiles that changed since the tree had oldSize
// leaves: at each level, the tiles from the one that was partial (or next)
// at oldSize up to the current partial one.
func (l *Log) writeTiles(oldSize uint64) error {
	for level := range l.rows {
		row := l.rows[level]
		nodes := uint64(len(row))
		oldNodes := oldSize >> (tiles.TileHeight * uint(level))
		if nodes == oldNodes {
			continue // nothing new at this level (or above)
		}
		for n := oldNodes / tiles.TileWidth; n*tiles.TileWidth < nodes; n++ {
			end := min((n+1)*tiles.TileWidth, nodes)
			t := tiles.Tile{Level: uint8(level), Index: n, Width: uint16(end - n*tiles.TileWidth)}
			if err := l.write(t.Path(), tiles.MarshalHashTile(row[n*tiles.TileWidth:end])); err != nil {
				return err
			}
		}
	}
	return nil
}

// sign writes and returns a checkpoint for the current size.
func (l *Log) sign() ([]byte, error) {
	cp := tiles.Checkpoint{Origin: l.signer.Name(), Size: l.Size(), Hash: l.Root()}
	signed, err := note.Sign(&note.Note{Text: string(cp.Marshal())}, l.signer)
	if err != nil {
		return nil, fmt.Errorf("couldn't sign checkpoint: %w", err)
	}
	if err := l.write(tiles.CheckpointPath, signed); err != nil {
		return nil, err
	}
	l.checkpoint = signed
	return signed, nil
}

func (l *Log) write(path string, data []byte) error {
	name := filepath.Join(l.dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return os.WriteFile(name, data, 0o644)
}

// SubtreeRoot returns the Merkle tree hash of a perfect subtree from its
// bottom row of 2^k hashes, hashing pairwise with tiles.NodeHash. It panics if
// the row's length is not a power of two.
func SubtreeRoot(row []tiles.Hash) tiles.Hash {
	n := len(row)
	if n == 0 || n&(n-1) != 0 {
		panic(fmt.Sprintf("tilestest: subtree of %d nodes", n))
	}
	level := append([]tiles.Hash(nil), row...)
	for ; n > 1; n /= 2 {
		for i := range n / 2 {
			level[i] = tiles.NodeHash(level[2*i], level[2*i+1])
		}
	}
	return level[0]
}

// Files returns the paths, relative to the log directory, of every resource
// the tree of size leaves is made of: its full and partial hash tiles at
// every level, its entry bundles and the checkpoint. Stale partial tiles left
// from smaller sizes are not part of it.
func Files(size uint64) []string {
	paths := []string{tiles.CheckpointPath}
	for n := range tiles.BundleCount(size) {
		t, _ := tiles.BundleFor(n, size)
		paths = append(paths, t.Path())
	}
	for level := uint8(0); level <= tiles.MaxLevel; level++ {
		nodes := size >> (tiles.TileHeight * uint(level))
		if nodes == 0 {
			break
		}
		for n := uint64(0); n*tiles.TileWidth < nodes; n++ {
			t, _ := tiles.TileFor(level, n, size)
			paths = append(paths, t.Path())
		}
	}
	return paths
}

// Entry returns synthetic entry index: a JSON object of 100 to 400 bytes whose
// length and contents are a deterministic function of index.
func Entry(index uint64) []byte {
	return AppendEntry(nil, index)
}

// AppendEntry appends Entry(index) to b, to generate many entries without
// allocating each.
func AppendEntry(b []byte, index uint64) []byte {
	r := splitmix64(index)
	n := 100 + int(r%301)
	start := len(b)
	b = append(b, `{"seq":`...)
	b = appendUint(b, index)
	b = append(b, `,"kind":"test.event","actor":"user-`...)
	b = appendUint(b, r>>32%10000)
	b = append(b, `","data":"`...)
	const hexdigits = "0123456789abcdef"
	for len(b)-start < n-2 {
		r = splitmix64(r)
		for i := 0; i < 16 && len(b)-start < n-2; i++ {
			b = append(b, hexdigits[r>>(4*i)&15])
		}
	}
	return append(b, `"}`...)
}

// Generate writes a log of size synthetic entries (see Entry) to dir, signed
// by s, in one pass, and returns its signed checkpoint. It is the fast way to
// a large log: a million entries take a few seconds.
func Generate(dir string, s note.Signer, size uint64) ([]byte, error) {
	var buf []byte
	return New(dir, s).AppendFunc(size, func(i uint64) []byte {
		buf = AppendEntry(buf[:0], i)
		return buf
	})
}

func appendUint(b []byte, v uint64) []byte {
	var d [20]byte
	i := len(d)
	for {
		i--
		d[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, d[i:]...)
}

// splitmix64 is a fast, well-mixed deterministic function of x.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// LeafHashes returns the leaf hashes of an entry bundle's entries, in the
// form Tessera's fsck takes them (its bundle hasher): interop tests run fsck
// over logs this module writes.
func LeafHashes(bundle []byte) ([][]byte, error) {
	var hs [][]byte
	for off := 0; off < len(bundle); {
		if len(bundle)-off < 2 {
			return nil, fmt.Errorf("entry bundle is truncated at byte %d", off)
		}
		n := int(bundle[off])<<8 | int(bundle[off+1])
		off += 2
		if len(bundle)-off < n {
			return nil, fmt.Errorf("entry at byte %d runs past the bundle", off-2)
		}
		h := tiles.LeafHash(bundle[off : off+n])
		hs = append(hs, h[:])
		off += n
	}
	return hs, nil
}

// Prune prunes the log in dir as its operator would: it removes every entry
// bundle that p refuses, full and partial, and writes p as the directory's
// Pruned document (tiles.PrunedPath). Hash tiles stay.
func Prune(dir string, p tiles.Pruned) error {
	root := filepath.Join(dir, "tile", "entries")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		t, err := tiles.ParsePath(filepath.ToSlash(rel))
		if err != nil || !p.Refuses(t) {
			return nil // not a bundle, or one p keeps
		}
		return os.Remove(path)
	})
	if err != nil {
		return err
	}
	doc, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, tiles.PrunedPath), doc, 0o644)
}
