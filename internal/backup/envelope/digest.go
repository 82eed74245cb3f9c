package envelope

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
)

// HashWriter passes writes on to w and keeps the length and SHA-256 of what w
// accepted. Placed under NewWriter it measures the ciphertext exactly as stored, so
// callers can record the object's size and checksum without reading it again.
type HashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

// NewHashWriter returns a HashWriter writing to w.
func NewHashWriter(w io.Writer) *HashWriter { return &HashWriter{w: w, h: sha256.New()} }

func (hw *HashWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

// Len is the number of bytes written so far.
func (hw *HashWriter) Len() int64 { return hw.n }

// Sum is the SHA-256 of the bytes written so far.
func (hw *HashWriter) Sum() []byte { return hw.h.Sum(nil) }

// SumHex is Sum in lower-case hex.
func (hw *HashWriter) SumHex() string { return hex.EncodeToString(hw.Sum()) }
