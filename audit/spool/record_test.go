package spool

import (
	"bytes"
	"fmt"
	"testing"
)

// segmentOf frames payloads as one segment's bytes.
func segmentOf(payloads ...string) []byte {
	var b []byte
	for _, p := range payloads {
		b = AppendRecord(b, []byte(p))
	}
	return b
}

func payloadsOf(recs []Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, string(r.Payload))
	}
	return out
}

func TestParseTornTail(t *testing.T) {
	want := []string{`{"id":"a"}`, "", `{"id":"c","reason":"` + string(bytes.Repeat([]byte("x"), 300)) + `"}`, `{"id":"d"}`}
	seg := segmentOf(want...)
	ends := []int{}
	for _, r := range func() []Record { r, _ := Parse(seg); return r }() {
		ends = append(ends, r.End)
	}
	// Cut the segment at every length: the records that fit whole come
	// back, the torn remainder is one damaged span at the end.
	for cut := 0; cut <= len(seg); cut++ {
		recs, damaged := Parse(seg[:cut])
		whole := 0
		for whole < len(ends) && ends[whole] <= cut {
			whole++
		}
		if got := payloadsOf(recs); fmt.Sprint(got) != fmt.Sprint(want[:whole]) {
			t.Fatalf("cut %d: records %q, want %q", cut, got, want[:whole])
		}
		covered := 0
		if whole > 0 {
			covered = ends[whole-1]
		}
		switch {
		case covered == cut && len(damaged) != 0:
			t.Fatalf("cut %d at a record boundary: damaged %v", cut, damaged)
		case covered < cut && (len(damaged) != 1 || damaged[0] != Span{covered, cut}):
			t.Fatalf("cut %d: damaged %v, want [{%d %d}]", cut, damaged, covered, cut)
		}
	}
}

func TestParseCorruptionCostsOnlyTheDamagedRecord(t *testing.T) {
	want := []string{"first", "second", "third", "fourth"}
	seg := segmentOf(want...)
	recs, _ := Parse(seg)
	for k, victim := range recs {
		for _, off := range []int{0, 5, 9, headerSize} { // magic, length, checksum, payload
			bad := bytes.Clone(seg)
			bad[victim.Offset+off] ^= 0x40
			got, damaged := Parse(bad)
			wantLeft := append(append([]string{}, want[:k]...), want[k+1:]...)
			if fmt.Sprint(payloadsOf(got)) != fmt.Sprint(wantLeft) {
				t.Errorf("record %d byte %d flipped: records %q, want %q", k, off, payloadsOf(got), wantLeft)
			}
			if len(damaged) != 1 || damaged[0] != (Span{victim.Offset, victim.End}) {
				t.Errorf("record %d byte %d flipped: damaged %v, want [{%d %d}]", k, off, damaged, victim.Offset, victim.End)
			}
		}
	}
}

func TestParseRejectsOversizedLength(t *testing.T) {
	seg := segmentOf("ok")
	seg[4], seg[5], seg[6], seg[7] = 0xff, 0xff, 0xff, 0xff
	if recs, damaged := Parse(seg); len(recs) != 0 || len(damaged) != 1 {
		t.Fatalf("a record with length 2^32-1: records %v damaged %v", recs, damaged)
	}
}

// FuzzParse checks that Parse never fails on any bytes, that what it returns
// covers the input exactly, and that every record it returns is one that
// AppendRecord would write. Seeds: testdata/fuzz/FuzzParse (a segment, torn
// in a header and in a payload, a flipped payload bit, stray magic, empty).
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, damaged := Parse(data)
		off, ri, di := 0, 0, 0
		for off < len(data) {
			switch {
			case ri < len(recs) && recs[ri].Offset == off:
				r := recs[ri]
				if !bytes.Equal(AppendRecord(nil, r.Payload), data[r.Offset:r.End]) {
					t.Fatalf("record at %d does not re-encode to its bytes", off)
				}
				off, ri = r.End, ri+1
			case di < len(damaged) && damaged[di].Offset == off && damaged[di].End > off:
				off, di = damaged[di].End, di+1
			default:
				t.Fatalf("offset %d is covered by neither a record nor a damaged span", off)
			}
		}
		if ri != len(recs) || di != len(damaged) || off != len(data) {
			t.Fatalf("records and damaged spans overrun the input")
		}
		// A valid record appended after anything is found (or, if the
		// input ends in a header whose checksum happens to cover it, is
		// inside a valid record that ends where it ends).
		tail := AppendRecord(bytes.Clone(data), []byte("tail"))
		if recs, _ := Parse(tail); len(recs) == 0 || recs[len(recs)-1].End != len(tail) {
			t.Fatalf("a valid record after %d bytes was not found", len(data))
		}
	})
}
