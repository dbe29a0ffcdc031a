package subjectkey

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/ledger-dev/ledger/internal/jsonfile"
)

// File is a Store in one JSON file, mode 0600, changed under a lock and
// replaced atomically and durably on each change (internal/jsonfile), so
// that a crash leaves the keys before or after the change. It holds only
// wrapped keys.
//
// A destroyed key is removed from the file, which is rewritten whole; its
// id, tenant, subject, why and when are kept, with whether its erasure is
// still pending, so that Open says ErrErased and Destroy run again names
// the erasure it made. The old file's blocks may linger
// on the disk until reused: they hold the key wrapped, useless without the
// master key.
//
// A File caches what it read, with the unwrapped keys, until the file is
// replaced (by this process or another): Key costs a stat of the file when
// nothing changed, not a read of every key.
type File struct {
	// Resolution is what Newest is rounded up to (see Info); set it before
	// the first Key. Zero is DefaultResolution.
	Resolution time.Duration

	path string
	wrap Wrapper

	mu     sync.Mutex
	cached os.FileInfo // of the file doc was read from; nil: none read
	doc    fileDoc
	keys   map[string][]byte // unwrapped, by kid, of doc
	index  map[string]int    // doc.Keys by tenant 0x00 subject
	byKID  map[string]int    // doc.Keys by kid
}

// fileDoc is the file's content.
type fileDoc struct {
	Keys   []fileKey   `json:"keys"`
	Erased []erasedKey `json:"erased"`
}

// erasedKey is what is kept of a destroyed key: whose it was and why, not
// the key.
type erasedKey struct {
	Tenant  string    `json:"tenant"`
	Subject string    `json:"subject"`
	KID     string    `json:"kid"`
	Why     *Why      `json:"why,omitempty"`
	At      time.Time `json:"at,omitzero"`
	// Pending is Erasure.Pending; absent (false) in the files of versions
	// that logged an erasure's event without marking it.
	Pending bool `json:"pending,omitempty"`
}

func (e erasedKey) erasure() Erasure {
	er := Erasure{Tenant: e.Tenant, Subject: e.Subject, KID: e.KID, At: e.At, Pending: e.Pending}
	if e.Why != nil {
		er.Why = *e.Why
	}
	return er
}

type fileKey struct {
	Tenant  string `json:"tenant"`
	Subject string `json:"subject"`
	KID     string `json:"kid"`
	Wrapped []byte `json:"wrapped"`
	// Newest is Info.Newest; zero for a key made before it was kept, which
	// Idle never lists.
	Newest time.Time `json:"newest,omitzero"`
}

// OpenFile returns the Store in the file at path, created on the first key.
func OpenFile(path string, wrap Wrapper) (*File, error) {
	f := &File{path: path, wrap: wrap}
	if _, err := f.read(); err != nil {
		return nil, err
	}
	return f, nil
}

// read returns the file's document, from the cache while the file is the
// one it was read from. Its caller holds f.mu.
func (f *File) read() (fileDoc, error) {
	fi, err := os.Stat(f.path)
	if errors.Is(err, os.ErrNotExist) {
		f.cached, f.doc, f.keys, f.index, f.byKID = nil, fileDoc{}, nil, nil, nil
		return fileDoc{}, nil
	}
	if err != nil {
		return fileDoc{}, fmt.Errorf("couldn't read the subject keys: %w", err)
	}
	if f.cached != nil && os.SameFile(fi, f.cached) && fi.ModTime().Equal(f.cached.ModTime()) && fi.Size() == f.cached.Size() {
		return f.doc, nil
	}
	// The file is replaced by a rename, never written in place: what is
	// read after this stat is this file or a newer one, and a newer one is
	// read again on the next call.
	b, err := os.ReadFile(f.path)
	if err != nil {
		return fileDoc{}, fmt.Errorf("couldn't read the subject keys: %w", err)
	}
	doc, err := decode(f.path, b)
	if err != nil {
		return fileDoc{}, err
	}
	// A kid names one key for good: the keys unwrapped before stay cached,
	// but for those the new file no longer holds (destroyed).
	keys := make(map[string][]byte, len(f.keys))
	f.index, f.byKID = make(map[string]int, len(doc.Keys)), make(map[string]int, len(doc.Keys))
	for i, k := range doc.Keys {
		f.index[k.Tenant+"\x00"+k.Subject] = i
		f.byKID[k.KID] = i
		if key, ok := f.keys[k.KID]; ok {
			keys[k.KID] = key
		}
	}
	f.cached, f.doc, f.keys = fi, doc, keys
	return doc, nil
}

// unwrap returns the key of entry k, from the cache when it was unwrapped
// before. Its caller holds f.mu.
func (f *File) unwrap(k *fileKey) ([]byte, error) {
	if key, ok := f.keys[k.KID]; ok {
		return key, nil
	}
	key, err := Unwrap(f.wrap, k.Tenant, k.Subject, k.KID, k.Wrapped)
	if err != nil {
		return nil, err
	}
	if f.keys != nil {
		f.keys[k.KID] = key
	}
	return key, nil
}

func decode(path string, b []byte) (fileDoc, error) {
	var doc fileDoc
	if len(b) == 0 {
		return doc, nil
	}
	if err := jsonfile.Decode(b, &doc); err != nil {
		return doc, fmt.Errorf("subject key file %s is damaged: %w", path, err)
	}
	return doc, nil
}

// find returns the subject's key entry, or nil.
func (d *fileDoc) find(tenant, subject string) *fileKey {
	for i := range d.Keys {
		if d.Keys[i].Tenant == tenant && d.Keys[i].Subject == subject {
			return &d.Keys[i]
		}
	}
	return nil
}

// Key implements Store. It reads the file, and takes its lock and writes
// it only to create a key or move its Newest later: a key destroyed by
// another process is never handed out.
func (f *File) Key(_ context.Context, tenant, subject string, at time.Time) (string, []byte, error) {
	newest := NewestFor(at, f.Resolution)
	f.mu.Lock()
	defer f.mu.Unlock()
	doc, err := f.read()
	if err != nil {
		return "", nil, err
	}
	if i, ok := f.index[tenant+"\x00"+subject]; ok && !doc.Keys[i].Newest.Before(newest) {
		k := &doc.Keys[i]
		key, err := f.unwrap(k)
		return k.KID, key, err
	}
	var kid string
	var key []byte
	err = jsonfile.Update(f.path, func(old []byte) ([]byte, error) {
		doc, err := decode(f.path, old)
		if err != nil {
			return nil, err
		}
		if k := doc.find(tenant, subject); k != nil {
			kid = k.KID
			key, err = f.unwrap(k) // f.mu is held
			if err != nil {
				return nil, err
			}
			if !k.Newest.Before(newest) {
				return old, nil
			}
			k.Newest = newest
			return jsonfile.Marshal(doc)
		}
		var wrapped []byte
		if kid, key, wrapped, err = Make(f.wrap, tenant, subject); err != nil {
			return nil, err
		}
		doc.Keys = append(doc.Keys, fileKey{Tenant: tenant, Subject: subject, KID: kid, Wrapped: wrapped, Newest: newest})
		return jsonfile.Marshal(doc)
	})
	if err != nil {
		return "", nil, fmt.Errorf("couldn't get the key of subject %q: %w", subject, err)
	}
	return kid, key, nil
}

// Idle implements Store.
func (f *File) Idle(_ context.Context, before time.Time) ([]Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	doc, err := f.read()
	if err != nil {
		return nil, err
	}
	var idle []Info
	for _, k := range doc.Keys {
		if !k.Newest.IsZero() && k.Newest.Before(before) {
			idle = append(idle, Info{Tenant: k.Tenant, Subject: k.Subject, KID: k.KID, Newest: k.Newest})
		}
	}
	return idle, nil
}

// Open implements Store.
func (f *File) Open(_ context.Context, kid string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	doc, err := f.read()
	if err != nil {
		return nil, err
	}
	if i, ok := f.byKID[kid]; ok {
		return f.unwrap(&doc.Keys[i])
	}
	for _, e := range doc.Erased {
		if e.KID == kid {
			return nil, ErrErased
		}
	}
	return nil, ErrUnknownKey
}

// Destroy implements Store.
func (f *File) Destroy(_ context.Context, tenant, subject string, why Why, idleBefore time.Time) (Erasure, error) {
	var done Erasure
	err := jsonfile.Update(f.path, func(old []byte) ([]byte, error) {
		doc, err := decode(f.path, old)
		if err != nil {
			return nil, err
		}
		k := doc.find(tenant, subject)
		if k == nil {
			// Already destroyed (a re-run after a crash), or never made.
			for _, e := range doc.Erased {
				if e.Tenant == tenant && e.Subject == subject {
					done = e.erasure()
				}
			}
			return old, nil
		}
		if !idleBefore.IsZero() && !k.Newest.Before(idleBefore) {
			return old, nil
		}
		e := erasedKey{Tenant: tenant, Subject: subject, KID: k.KID, Why: &why, At: time.Now().UTC(), Pending: true}
		doc.Erased = append(doc.Erased, e)
		done = e.erasure()
		doc.Keys = slices.DeleteFunc(slices.Clone(doc.Keys), func(k fileKey) bool { return k.KID == e.KID })
		return jsonfile.Marshal(doc)
	})
	if err != nil {
		return Erasure{}, fmt.Errorf("couldn't destroy the key of subject %q: %w", subject, err)
	}
	return done, nil
}

// Logged implements Store.
func (f *File) Logged(_ context.Context, kid string) error {
	err := jsonfile.Update(f.path, func(old []byte) ([]byte, error) {
		doc, err := decode(f.path, old)
		if err != nil {
			return nil, err
		}
		for i := range doc.Erased {
			if doc.Erased[i].KID == kid && doc.Erased[i].Pending {
				doc.Erased[i].Pending = false
				return jsonfile.Marshal(doc)
			}
		}
		return old, nil
	})
	if err != nil {
		return fmt.Errorf("couldn't mark the erasure of key %s logged: %w", kid, err)
	}
	return nil
}

// Pending implements Store.
func (f *File) Pending(context.Context) ([]Erasure, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	doc, err := f.read()
	if err != nil {
		return nil, err
	}
	var pending []Erasure
	for _, e := range doc.Erased {
		if e.Pending {
			pending = append(pending, e.erasure())
		}
	}
	return pending, nil
}
