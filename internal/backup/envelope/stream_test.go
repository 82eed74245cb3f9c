package envelope

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// testChunk is the chunk size of streams the tampering tests take apart: small, so
// a few kilobytes make several chunks.
const testChunk = minChunkSize

// testBinding is what the tests' streams are bound to, and hdrLen their header's length.
var (
	testBinding = []byte("clusters/ns/c/uid-1/full/00000000000000000042.db.zst.enc")
	hdrLen      = headerSize + 2 + len(testBinding)
)

func seal(t testing.TB, key, plain []byte, chunk int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := newWriter(&buf, key, testBinding, chunk)
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(stream, key []byte) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(stream), key, testBinding)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)}) //nolint:gosec // G115: a seed's low byte is seed enough for test data
	_, _ = r.Read(b)
	return b
}

func TestRoundTrip(t *testing.T) {
	key := NewDataKey()
	for _, tc := range []struct {
		name  string
		plain []byte
		chunk int
	}{
		{"empty", nil, ChunkSize},
		{"one byte", []byte("x"), ChunkSize},
		{"small", []byte("hello, etcd"), ChunkSize},
		{"compressible multi-chunk", bytes.Repeat([]byte("/registry/pods/default/p "), 400_000), ChunkSize},
		{"incompressible multi-chunk", randomBytes(3*ChunkSize+12345, 1), ChunkSize},
		{"small chunks", randomBytes(10*testChunk+7, 2), testChunk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := seal(t, key, tc.plain, tc.chunk)
			got, err := open(stream, key)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.plain) {
				t.Fatalf("round trip of %d bytes returned %d different bytes", len(tc.plain), len(got))
			}
		})
	}
}

// The sealer's boundary cases: content that ends exactly on a chunk boundary must
// still end with a chunk sealed as last.
func TestChunkBoundaries(t *testing.T) {
	key := NewDataKey()
	for _, n := range []int{0, 1, testChunk - 1, testChunk, testChunk + 1, 2 * testChunk, 3*testChunk + 5} {
		plain := randomBytes(n, uint64(n)) //nolint:gosec // G115: n is a small non-negative chunk count
		var buf bytes.Buffer
		s, err := newSealer(&buf, key, testBinding, testChunk)
		if err != nil {
			t.Fatal(err)
		}
		// Odd write sizes, so chunks fill across writes.
		for rest := plain; len(rest) > 0; {
			k := min(len(rest), 333)
			if _, err := s.Write(rest[:k]); err != nil {
				t.Fatal(err)
			}
			rest = rest[k:]
		}
		if err := s.close(); err != nil {
			t.Fatal(err)
		}
		chunks := max(1, (n+testChunk-1)/testChunk)
		if want := hdrLen + n + chunks*tagSize; buf.Len() != want {
			t.Errorf("%d bytes sealed into %d, want %d (%d chunks)", n, buf.Len(), want, chunks)
		}
		o, err := newOpener(bytes.NewReader(buf.Bytes()), key, testBinding, readerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(o)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: opened %d bytes, %v", n, len(got), err)
		}
	}
}

func TestStreamsDifferUnderOneKey(t *testing.T) {
	key, plain := NewDataKey(), []byte("same content")
	a, b := seal(t, key, plain, ChunkSize), seal(t, key, plain, ChunkSize)
	if bytes.Equal(a, b) {
		t.Fatal("two streams of the same content under one key are identical")
	}
	if bytes.Contains(a, plain) {
		t.Fatal("the stream contains its plaintext")
	}
}

func TestWrongKey(t *testing.T) {
	stream := seal(t, NewDataKey(), []byte("secret"), ChunkSize)
	_, err := open(stream, NewDataKey())
	if !errors.Is(err, ErrWrongKey) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open with another key = %v, want ErrWrongKey and ErrCorrupt", err)
	}
}

func TestBadDataKey(t *testing.T) {
	for _, key := range [][]byte{nil, make([]byte, 16), make([]byte, 33)} {
		w := NewWriter(io.Discard, key, testBinding)
		if _, err := w.Write([]byte("x")); !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("Write with a %d-byte key = %v, want ErrInvalidParameter", len(key), err)
		}
		if err := w.Close(); !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("Close with a %d-byte key = %v, want ErrInvalidParameter", len(key), err)
		}
		if _, err := NewReader(bytes.NewReader(nil), key, testBinding); !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("NewReader with a %d-byte key = %v, want ErrInvalidParameter", len(key), err)
		}
	}
}

// tamperStream is a stream of several small chunks and its parts.
func tamperStream(t *testing.T) (key, plain, stream []byte, chunks [][]byte) {
	key = NewDataKey()
	// Incompressible, so the compressed stream spans four chunks and a partial one.
	plain = randomBytes(4*testChunk+100, 7)
	stream = seal(t, key, plain, testChunk)
	for rest := stream[hdrLen:]; len(rest) > 0; {
		n := min(len(rest), testChunk+tagSize)
		chunks = append(chunks, rest[:n])
		rest = rest[n:]
	}
	if len(chunks) < 4 {
		t.Fatalf("tamper stream has %d chunks, want at least 4", len(chunks))
	}
	return key, plain, stream, chunks
}

func join(header []byte, chunks ...[]byte) []byte {
	return bytes.Join(append([][]byte{header}, chunks...), nil)
}

func TestTampering(t *testing.T) {
	key, _, stream, c := tamperStream(t)
	h := stream[:hdrLen]
	n := len(c)
	other := seal(t, key, randomBytes(4*testChunk+100, 8), testChunk)
	for _, tc := range []struct {
		name   string
		stream []byte
	}{
		{"drop the last chunk", join(h, c[:n-1]...)},
		{"drop the first chunk", join(h, c[1:]...)},
		{"drop a middle chunk", join(h, append(append([][]byte{}, c[:1]...), c[2:]...)...)},
		{"swap two chunks", join(h, append([][]byte{c[1], c[0]}, c[2:]...)...)},
		{"repeat a chunk", join(h, append([][]byte{c[0], c[0]}, c[1:]...)...)},
		{"append a byte", append(bytes.Clone(stream), 0)},
		{"append a chunk of its own", join(h, append(append([][]byte{}, c...), c[n-2])...)},
		{"append its last chunk again", join(h, append(append([][]byte{}, c...), c[n-1])...)},
		{"splice a chunk of another stream under the same key", join(h, append([][]byte{other[hdrLen : hdrLen+testChunk+tagSize]}, c[1:]...)...)},
		{"another stream's header", join(other[:hdrLen], c...)},
		{"header only", bytes.Clone(h)},
		{"nothing", nil},
		{"not an envelope", []byte("PK\x03\x04 a zip file, perhaps, and long enough to fill a header")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := open(tc.stream, key); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestEveryFlippedByteIsDetected(t *testing.T) {
	key, plain, stream, _ := tamperStream(t)
	if got, err := open(stream, key); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("untampered stream: %v", err)
	}
	for i := range stream {
		bad := bytes.Clone(stream)
		bad[i] ^= 0x01
		if _, err := open(bad, key); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flipping byte %d of %d: open = %v, want ErrCorrupt", i, len(stream), err)
		}
	}
}

func TestEveryTruncationIsDetected(t *testing.T) {
	key, _, stream, _ := tamperStream(t)
	for n := range len(stream) {
		if _, err := open(stream[:n], key); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncating to %d of %d bytes: open = %v, want ErrCorrupt", n, len(stream), err)
		}
	}
}

// A reader hands out a chunk only once it is authenticated; what precedes the
// damage may be read, and the error comes before io.EOF.
func TestTruncationErrorComesBeforeEOF(t *testing.T) {
	key, plain, stream, c := tamperStream(t)
	r, err := NewReader(bytes.NewReader(stream[:len(stream)-len(c[len(c)-1])]), key, testBinding)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadAll = %v, want ErrCorrupt", err)
	}
	if !bytes.HasPrefix(plain, got) {
		t.Fatal("reader returned bytes that are not a prefix of the content")
	}
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Read after the error = %v, want the error again", err)
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after < len(p) {
		return 0, errors.New("disk full")
	}
	f.after -= len(p)
	return len(p), nil
}

func TestWriterErrorsAreSticky(t *testing.T) {
	w := NewWriter(&failWriter{after: hdrLen + 10}, NewDataKey(), testBinding)
	_, err := w.Write(randomBytes(3*ChunkSize, 3))
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		t.Fatal("writing to a failing writer succeeded")
	}
	if _, err2 := w.Write([]byte("more")); err2 == nil {
		t.Fatal("Write after a failure succeeded")
	}
	if err2 := w.Close(); err2 == nil {
		t.Fatal("Close after a failure succeeded")
	}

	w = NewWriter(io.Discard, NewDataKey(), testBinding)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("late")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

func TestHashWriterMeasuresCiphertext(t *testing.T) {
	var buf bytes.Buffer
	hw := NewHashWriter(&buf)
	w := NewWriter(hw, NewDataKey(), testBinding)
	if _, err := w.Write(randomBytes(2*ChunkSize, 4)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(buf.Bytes())
	if !bytes.Equal(hw.Sum(), want[:]) || hw.SumHex() != fmt.Sprintf("%x", want) {
		t.Fatalf("Sum = %x, want %x", hw.Sum(), want)
	}
	if hw.Len() != int64(buf.Len()) {
		t.Fatalf("Len = %d, want %d", hw.Len(), buf.Len())
	}
}
