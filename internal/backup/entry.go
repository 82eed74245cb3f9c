package backup

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind tells full snapshots from incremental batches.
type Kind string

// The kinds of backup objects.
const (
	KindFull        Kind = "full"
	KindIncremental Kind = "incremental"
)

// Entry is one backup as its manifest records it. Object names carry the
// revisions, so a listing knows them without reading any manifest; the manifest
// adds the checksum and the times.
type Entry struct {
	Kind Kind `json:"kind"`
	// Key is the data object's key, relative to the set's prefix.
	Key string `json:"key"`
	// First is the first revision of an incremental; for a full it is zero.
	First int64 `json:"first,omitempty"`
	// Revision is the last revision covered: a full holds every write up to it,
	// an incremental every event from First to it.
	Revision int64 `json:"revision"`
	// Size and SHA256 describe the stored ciphertext.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Created is when the object was stored and verified.
	Created time.Time `json:"created"`
	// Observed is a time by which every write acknowledged before it is covered:
	// what a recovery point is measured from. Zero when unknown.
	Observed time.Time `json:"observed,omitzero"`
	// KMSKeyID names the key that wraps the data key the object is sealed with.
	KMSKeyID string `json:"kmsKeyID,omitempty"`
	// MAC authenticates the manifest and its place in the set (binding.go);
	// empty in manifests written before backups were bound.
	MAC string `json:"mac,omitempty"`
}

// ID names the entry for people: "full/<rev>" or "incr/<first>-<last>".
func (e Entry) ID() string {
	return strings.TrimSuffix(strings.TrimSuffix(e.Key, fullSuffix), incrSuffix)
}

const (
	fullDir        = "full/"
	incrDir        = "incr/"
	fullSuffix     = ".db.zst.enc"
	incrSuffix     = ".batch.enc"
	manifestSuffix = ".manifest.json"
)

func fullKey(rev int64) string { return fmt.Sprintf("%s%020d%s", fullDir, rev, fullSuffix) }

func incrKey(first, last int64) string {
	return fmt.Sprintf("%s%020d-%020d%s", incrDir, first, last, incrSuffix)
}

func manifestKey(dataKey string) string { return dataKey + manifestSuffix }

// parseKey reads kind and revisions from a data object's key (relative to the
// set); ok is false for anything else.
func parseKey(key string) (e Entry, ok bool) {
	switch {
	case strings.HasPrefix(key, fullDir) && strings.HasSuffix(key, fullSuffix):
		rev, err := parseRev(strings.TrimSuffix(strings.TrimPrefix(key, fullDir), fullSuffix))
		return Entry{Kind: KindFull, Key: key, Revision: rev}, err == nil && key == fullKey(rev)
	case strings.HasPrefix(key, incrDir) && strings.HasSuffix(key, incrSuffix):
		first, last, found := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(key, incrDir), incrSuffix), "-")
		f, err1 := parseRev(first)
		l, err2 := parseRev(last)
		ok := found && err1 == nil && err2 == nil && f <= l && key == incrKey(f, l)
		return Entry{Kind: KindIncremental, Key: key, First: f, Revision: l}, ok
	}
	return Entry{}, false
}

func parseRev(s string) (int64, error) {
	if len(s) != 20 {
		return 0, fmt.Errorf("revision %q is not 20 digits", s)
	}
	return strconv.ParseInt(s, 10, 64)
}
