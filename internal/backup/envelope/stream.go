package envelope

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/klauspost/compress/zstd"
)

// The stream format, version 2:
//
//	header: "CPENV" | version (1 byte) | chunk size (4 bytes, big-endian) |
//	        salt (32 random bytes) | key check (16 bytes) |
//	        binding length (2 bytes, big-endian) | binding
//	chunks: AES-256-GCM sealed chunks of the zstd-compressed plaintext, each
//	        chunk-size bytes before sealing except the last, which may be shorter
//	        (or empty); each carries a 16-byte tag.
//
// Version 1, written before bindings existed, is the same without the binding
// length and binding. Readers open it only when asked to (AcceptUnbound).
//
// Every stream derives its own AES key, nonce prefix and key check from the data
// key and its salt with HKDF-SHA256. A fresh key per stream keeps GCM's nonces
// unique however many backups one data key seals (random 96-bit nonces under one
// key would wear out after some 2^32 messages), and the key check tells a wrong key
// from a damaged stream, which GCM alone cannot. A chunk's nonce is the prefix, its
// index and a last-chunk flag, and its additional data is the header: a chunk
// opens only at its own position, as the last one only if it was sealed last, and
// only under its own header, so reordering, truncation, extension and header edits
// all fail authentication.
//
// The binding is the caller's name for where the stream belongs (for a backup:
// its cluster, set and position in the set). It is in the header, so every
// chunk authenticates it, and a reader is told the binding it expects: a stream
// moved to another place is refused by name before any chunk is opened, and a
// header edited to claim the new place fails authentication. A version 2 header
// cannot be rewritten as version 1 either: the chunks were sealed under the
// longer header.
const (
	magic      = "CPENV"
	version1   = 1
	version    = 2
	saltSize   = 32
	checkSize  = 16
	prefixSize = 7
	tagSize    = 16
	// headerSize is the fixed part of the header, all of version 1's.
	headerSize = len(magic) + 1 + 4 + saltSize + checkSize
	// MaxBindingLen bounds a binding: its length is two bytes of the header.
	MaxBindingLen = 1<<16 - 1

	// ChunkSize is the plaintext size of each sealed chunk: large enough that the
	// 16-byte tag and the per-chunk call cost vanish, small enough to buffer.
	ChunkSize = 1 << 20
	// Readers refuse chunk sizes outside these bounds before allocating a buffer.
	minChunkSize = 1 << 10
	maxChunkSize = 1 << 24

	hkdfInfo = "cellplane envelope v1"
)

// streamKeys are what one stream derives from the data key and its salt.
type streamKeys struct {
	aead   cipher.AEAD
	prefix [prefixSize]byte
	check  [checkSize]byte
}

func deriveKeys(dataKey, salt []byte) (streamKeys, error) {
	var k streamKeys
	okm, err := hkdf.Key(sha256.New, dataKey, salt, hkdfInfo, DataKeySize+prefixSize+checkSize)
	if err != nil {
		return k, fmt.Errorf("deriving stream key: %w", err)
	}
	block, err := aes.NewCipher(okm[:DataKeySize])
	if err != nil {
		return k, fmt.Errorf("creating stream cipher: %w", err)
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return k, fmt.Errorf("creating stream cipher: %w", err)
	}
	copy(k.prefix[:], okm[DataKeySize:])
	copy(k.check[:], okm[DataKeySize+prefixSize:])
	return k, nil
}

// nonce is the chunk's nonce: prefix | index | last-chunk flag.
func (k *streamKeys) nonce(dst *[12]byte, index uint32, last bool) []byte {
	copy(dst[:], k.prefix[:])
	binary.BigEndian.PutUint32(dst[prefixSize:], index)
	dst[11] = 0
	if last {
		dst[11] = 1
	}
	return dst[:]
}

// NewWriter returns a writer that compresses and encrypts what is written to it
// under dataKey, bound to binding, and writes the stream to w. Close seals the
// last chunk and must be called; it does not close w. A bad data key or a
// binding over MaxBindingLen is reported by the first Write or Close.
func NewWriter(w io.Writer, dataKey, binding []byte) io.WriteCloser {
	return newWriter(w, dataKey, binding, ChunkSize)
}

func newWriter(w io.Writer, dataKey, binding []byte, chunkSize int) io.WriteCloser {
	s, err := newSealer(w, dataKey, binding, chunkSize)
	if err != nil {
		return &writer{err: err}
	}
	// The fastest level: a backup must keep up with etcd, and etcd's pages still
	// shrink severalfold. One goroutine: a backup should not take the cores etcd
	// serves from, and a synchronous encoder leaves nothing running after Close.
	zw, err := zstd.NewWriter(s,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(false), // GCM already authenticates every byte
	)
	if err != nil {
		return &writer{err: fmt.Errorf("creating compressor: %w", err)}
	}
	return &writer{zw: zw, s: s}
}

type writer struct {
	zw  *zstd.Encoder
	s   *sealer
	err error
}

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.zw.Write(p)
	if err != nil {
		w.err = w.s.fail(err)
	}
	return n, w.err
}

func (w *writer) Close() error {
	if w.err != nil {
		return w.err
	}
	w.err = errClosed
	if err := w.zw.Close(); err != nil {
		return w.s.fail(err)
	}
	return w.s.close()
}

var errClosed = errors.New("envelope writer is closed")

// sealer cuts what is written to it into chunks and seals each one. It holds a
// full chunk back until the next byte arrives, because only then does it know the
// chunk is not the last.
type sealer struct {
	w      io.Writer
	keys   streamKeys
	header []byte // written before the first chunk; every chunk's additional data
	buf    []byte // the chunk being filled, with room for its tag
	size   int
	index  uint32
	nonce  [12]byte
	wrote  bool
	err    error
}

func newSealer(w io.Writer, dataKey, binding []byte, size int) (*sealer, error) {
	if err := checkKey("data key", dataKey); err != nil {
		return nil, err
	}
	if len(binding) > MaxBindingLen {
		return nil, fmt.Errorf("binding of %d bytes is longer than %d", len(binding), MaxBindingLen)
	}
	// The bounds readers enforce: a stream no reader would open is not written.
	if size < minChunkSize || size > maxChunkSize {
		return nil, fmt.Errorf("chunk size %d is out of range [%d, %d]", size, minChunkSize, maxChunkSize)
	}
	header := make([]byte, headerSize, headerSize+2+len(binding))
	n := copy(header, magic)
	header[n] = version
	binary.BigEndian.PutUint32(header[n+1:], uint32(size))
	header = binary.BigEndian.AppendUint16(header, uint16(len(binding))) //nolint:gosec // G115: bounded by MaxBindingLen above
	header = append(header, binding...)
	salt := header[n+5 : n+5+saltSize]
	rand.Read(salt)
	keys, err := deriveKeys(dataKey, salt)
	if err != nil {
		return nil, err
	}
	copy(header[n+5+saltSize:], keys.check[:])
	return &sealer{w: w, keys: keys, header: header, buf: make([]byte, 0, size+tagSize), size: size}, nil
}

func (s *sealer) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n := 0
	for len(p) > 0 {
		if len(s.buf) == s.size {
			if err := s.seal(false); err != nil {
				return n, err
			}
		}
		c := copy(s.buf[len(s.buf):s.size], p)
		s.buf = s.buf[:len(s.buf)+c]
		p = p[c:]
		n += c
	}
	return n, nil
}

func (s *sealer) seal(last bool) error {
	if !s.wrote {
		if _, err := s.w.Write(s.header); err != nil {
			return s.fail(fmt.Errorf("writing envelope header: %w", err))
		}
		s.wrote = true
	}
	if s.index == math.MaxUint32 && !last {
		return s.fail(fmt.Errorf("envelope stream exceeds %d chunks", uint64(math.MaxUint32)))
	}
	out := s.keys.aead.Seal(s.buf[:0], s.keys.nonce(&s.nonce, s.index, last), s.buf, s.header)
	if _, err := s.w.Write(out); err != nil {
		return s.fail(fmt.Errorf("writing envelope chunk %d: %w", s.index, err))
	}
	s.index++
	s.buf = s.buf[:0]
	return nil
}

func (s *sealer) close() error {
	if s.err != nil {
		return s.err
	}
	if err := s.seal(true); err != nil {
		return err
	}
	s.err = errClosed
	return nil
}

// fail makes err sticky: after a failed write the stream is unusable.
func (s *sealer) fail(err error) error {
	if s.err == nil {
		s.err = err
	}
	return s.err
}

// ErrMisplaced: a stream's binding is not the one its reader expects; the
// stream was sealed for another place (renamed, swapped or copied there).
var ErrMisplaced = errors.New("sealed for another place")

// ErrUnbound: a version 1 stream, sealed before bindings existed, read without
// AcceptUnbound.
var ErrUnbound = errors.New("stream carries no binding (sealed by an older version)")

// ReaderOption changes what NewReader accepts.
type ReaderOption func(*readerOptions)

type readerOptions struct{ acceptUnbound bool }

// AcceptUnbound lets NewReader open version 1 streams, which carry no binding;
// the Reader's Bound then reports false so the caller can warn.
func AcceptUnbound() ReaderOption { return func(o *readerOptions) { o.acceptUnbound = true } }

// Reader is the decrypted, decompressed content of a stream.
type Reader struct{ r *reader }

// Read reads the content; see NewReader for the errors.
func (r *Reader) Read(p []byte) (int, error) { return r.r.Read(p) }

// Bound reports whether the stream carried a binding (version 2); false only
// for a version 1 stream opened with AcceptUnbound.
func (r *Reader) Bound() bool { return r.r.o.bound }

// NewReader checks the stream's header against dataKey and binding and returns a
// reader of the decrypted, decompressed content. Errors from a damaged stream
// wrap ErrCorrupt, a key that does not match wraps ErrWrongKey too, and a stream
// bound elsewhere wraps ErrMisplaced too.
//
// Chunks are authenticated one by one, so a truncated stream yields its intact
// chunks before the error: callers must read to io.EOF and discard everything on
// any error, e.g. by restoring into a temporary file.
func NewReader(r io.Reader, dataKey, binding []byte, opts ...ReaderOption) (*Reader, error) {
	var ro readerOptions
	for _, o := range opts {
		o(&ro)
	}
	if err := checkKey("data key", dataKey); err != nil {
		return nil, err
	}
	o, err := newOpener(r, dataKey, binding, ro)
	if err != nil {
		return nil, err
	}
	zr, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("creating decompressor: %w", err)
	}
	if err := zr.Reset(o); err != nil {
		zr.Close()
		return nil, o.blame(err)
	}
	return &Reader{&reader{zr: zr, o: o}}, nil
}

type reader struct {
	zr  *zstd.Decoder
	o   *opener
	err error
}

func (r *reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.zr.Read(p)
	if err == io.EOF && !r.o.last {
		err = fmt.Errorf("%w: compressed data ends before the stream", ErrCorrupt)
	} else if err != nil && err != io.EOF {
		err = r.o.blame(err)
	}
	if err != nil {
		r.err = err
		r.zr.Close() // frees the decoder's buffers now rather than at GC
	}
	return n, err
}

// opener reads sealed chunks and hands out their plaintext.
type opener struct {
	r      io.Reader
	keys   streamKeys
	header []byte
	buf    []byte // a chunk with its tag, plus one byte to see whether more follow
	size   int
	plain  []byte // opened and not yet read
	carry  bool   // buf[0] holds the first byte of the next chunk
	index  uint32
	nonce  [12]byte
	last   bool // the last chunk has been opened
	bound  bool // the header carried a binding (version 2)
	err    error
}

func newOpener(r io.Reader, dataKey, binding []byte, ro readerOptions) (*opener, error) {
	header := make([]byte, headerSize)
	if _, err := io.ReadFull(r, header); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: stream shorter than its header", ErrCorrupt)
		}
		return nil, fmt.Errorf("reading envelope header: %w", err)
	}
	n := len(magic)
	if string(header[:n]) != magic {
		return nil, fmt.Errorf("%w: not an envelope stream", ErrCorrupt)
	}
	switch {
	case header[n] == version1 && !ro.acceptUnbound:
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, ErrUnbound)
	case header[n] != version && header[n] != version1:
		return nil, fmt.Errorf("%w: unsupported envelope version %d", ErrCorrupt, header[n])
	}
	size := int(binary.BigEndian.Uint32(header[n+1:]))
	if size < minChunkSize || size > maxChunkSize {
		return nil, fmt.Errorf("%w: chunk size %d is out of range", ErrCorrupt, size)
	}
	keys, err := deriveKeys(dataKey, header[n+5:n+5+saltSize])
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(keys.check[:], header[n+5+saltSize:]) != 1 {
		return nil, fmt.Errorf("%w: %w: the data key does not open this stream (or its header is damaged)", ErrCorrupt, ErrWrongKey)
	}
	bound := header[n] == version
	if bound {
		if header, err = readBinding(r, header, binding); err != nil {
			return nil, err
		}
	}
	return &opener{r: r, keys: keys, header: header, bound: bound, buf: make([]byte, size+tagSize+1), size: size}, nil
}

// readBinding reads a version 2 header's binding onto header and compares it
// with want. The comparison is of a value the attacker already sees in the
// store, so it need not be constant-time; the chunks authenticate it.
func readBinding(r io.Reader, header, want []byte) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, fmt.Errorf("%w: stream shorter than its header", ErrCorrupt)
	}
	got := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(r, got); err != nil {
		return nil, fmt.Errorf("%w: stream shorter than its header", ErrCorrupt)
	}
	if !bytes.Equal(got, want) {
		return nil, fmt.Errorf("%w: %w: sealed for %q, read as %q", ErrCorrupt, ErrMisplaced, got, want)
	}
	return append(append(header, l[:]...), got...), nil
}

func (o *opener) Read(p []byte) (int, error) {
	for len(o.plain) == 0 {
		if o.err != nil {
			return 0, o.err
		}
		if o.last {
			return 0, io.EOF
		}
		o.err = o.next()
	}
	n := copy(p, o.plain)
	o.plain = o.plain[n:]
	return n, nil
}

// next reads and opens one chunk. A full chunk is the last one only if the stream
// ends right after it, so it reads one byte past a full chunk and keeps that byte
// for the next.
func (o *opener) next() error {
	full := o.size + tagSize
	have := 0
	if o.carry {
		o.buf[0] = o.buf[full]
		have, o.carry = 1, false
	}
	n, err := io.ReadFull(o.r, o.buf[have:full+1])
	have += n
	last := true
	switch {
	case err == nil:
		last, o.carry, have = false, true, full
	case err != io.EOF && err != io.ErrUnexpectedEOF:
		return fmt.Errorf("reading envelope chunk %d: %w", o.index, err)
	}
	if have < tagSize {
		return fmt.Errorf("%w: stream truncated in chunk %d", ErrCorrupt, o.index)
	}
	if !last && o.index == math.MaxUint32 {
		return fmt.Errorf("%w: stream exceeds %d chunks", ErrCorrupt, uint64(math.MaxUint32))
	}
	plain, err := o.keys.aead.Open(o.buf[:0], o.keys.nonce(&o.nonce, o.index, last), o.buf[:have], o.header)
	if err != nil {
		return fmt.Errorf("%w: chunk %d fails authentication (altered, reordered, truncated or extended)", ErrCorrupt, o.index)
	}
	o.plain, o.last = plain, last
	o.index++
	return nil
}

// blame returns the opener's own error if it caused a decompressor's failure, and
// otherwise marks the failure as corruption: the compressed bytes were
// authenticated, so a decoder that rejects them means a damaged or foreign stream.
func (o *opener) blame(err error) error {
	if o.err != nil {
		return o.err
	}
	return fmt.Errorf("%w: decompressing: %w", ErrCorrupt, err)
}
