package envelope

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// sealV1 seals plain as the code before bindings did: a version 1 header,
// which every chunk authenticates.
func sealV1(t *testing.T, key, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	s, err := newSealer(&buf, key, nil, ChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	s.header = s.header[:headerSize]
	s.header[len(magic)] = version1
	zw, err := zstd.NewWriter(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBindingMismatchIsRefusedByName(t *testing.T) {
	key := NewDataKey()
	stream := seal(t, key, []byte("etcd snapshot"), ChunkSize)
	for _, want := range [][]byte{
		[]byte("clusters/ns/c/uid-1/full/00000000000000000099.db.zst.enc"),     // another position
		[]byte("clusters/ns/other/uid-2/full/00000000000000000042.db.zst.enc"), // another cluster
		nil,
	} {
		_, err := NewReader(bytes.NewReader(stream), key, want)
		if !errors.Is(err, ErrMisplaced) || !errors.Is(err, ErrCorrupt) {
			t.Errorf("reading as %q: %v; want ErrMisplaced", want, err)
			continue
		}
		if !bytes.Contains([]byte(err.Error()), testBinding) {
			t.Errorf("error %q does not say where the stream was sealed for", err)
		}
	}
}

// An attacker who moves a stream and rewrites its header to claim the new
// place gets past the name check, but not past the first chunk.
func TestEditedBindingFailsAuthentication(t *testing.T) {
	key := NewDataKey()
	stream := seal(t, key, []byte("etcd snapshot"), ChunkSize)
	moved := bytes.Clone(stream)
	pos := bytes.Index(moved, []byte("00000000000000000042"))
	copy(moved[pos:], "00000000000000000099")
	claimed := bytes.Replace(testBinding, []byte("42"), []byte("99"), 1)
	r, err := NewReader(bytes.NewReader(moved), key, claimed)
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrMisplaced) {
		t.Fatalf("edited header: %v; want an authentication failure", err)
	}
}

func TestVersion1NeedsAcceptUnbound(t *testing.T) {
	key := NewDataKey()
	plain := randomBytes(3*ChunkSize/2, 7)
	v1 := sealV1(t, key, plain)
	if _, err := NewReader(bytes.NewReader(v1), key, testBinding); !errors.Is(err, ErrUnbound) {
		t.Fatalf("version 1 without AcceptUnbound: %v; want ErrUnbound", err)
	}
	r, err := NewReader(bytes.NewReader(v1), key, testBinding, AcceptUnbound())
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, plain) || r.Bound() {
		t.Fatalf("version 1 with AcceptUnbound: %d bytes, %v, bound %v", len(got), err, r.Bound())
	}
	r2, err := NewReader(bytes.NewReader(seal(t, key, plain, ChunkSize)), key, testBinding, AcceptUnbound())
	if err != nil || !r2.Bound() {
		t.Fatalf("version 2 stream: %v, bound %v; want bound", err, r2 != nil && r2.Bound())
	}
}

// A version 2 stream whose header is cut back to version 1's, to shed its
// binding, fails authentication even where unbound streams are accepted.
func TestDowngradeToVersion1FailsAuthentication(t *testing.T) {
	key := NewDataKey()
	stream := seal(t, key, []byte("etcd snapshot"), ChunkSize)
	down := append(bytes.Clone(stream[:headerSize]), stream[hdrLen:]...)
	down[len(magic)] = version1
	r, err := NewReader(bytes.NewReader(down), key, nil, AcceptUnbound())
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("downgraded stream: %v; want ErrCorrupt", err)
	}
}

func TestBindingTooLongIsRefused(t *testing.T) {
	w := NewWriter(io.Discard, NewDataKey(), make([]byte, MaxBindingLen+1))
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("a binding over MaxBindingLen was accepted")
	}
}
