package keyset

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// KeySize is the length of every key-encryption key: AES-256.
const KeySize = 32

// ErrInvalid: a keyset is empty, names a primary it does not hold, or holds
// a key of the wrong size or under an ID that is not its own.
var ErrInvalid = fmt.Errorf("invalid keyset: %w", errdefs.ErrInvalidParameter)

// Key is one key-encryption key and the ID it is known by in stored data.
type Key struct {
	ID     string `json:"id"`
	Secret []byte `json:"secret"`
}

// Set is a cluster's keys: Primary seals new data keys, every key opens what
// it sealed. Keys are only ever added, so anything a cluster ever wrote stays
// readable.
type Set struct {
	Primary string `json:"primary"`
	Keys    []Key  `json:"keys"`
}

// NewKey returns a fresh random key.
func NewKey() Key { return NewLabelledKey("") }

// NewLabelledKey returns a fresh random key whose ID starts with label and a
// slash: a cluster bound to a customer key names its keys after it (the key
// ID and generation), so etcd shows which customer key sealed each Secret.
// An empty label gives the plain hash ID.
func NewLabelledKey(label string) Key {
	secret := make([]byte, KeySize)
	rand.Read(secret) // never fails: crypto/rand crashes the program rather than return weak bytes
	id := idOf(secret)
	if label != "" {
		id = label + "/" + id
	}
	return Key{ID: id, Secret: secret}
}

// New returns a set of one fresh key, its primary.
func New() Set { return NewLabelled("") }

// NewLabelled returns a set of one fresh key labelled label, its primary.
func NewLabelled(label string) Set {
	k := NewLabelledKey(label)
	return Set{Primary: k.ID, Keys: []Key{k}}
}

// Label is what k's ID starts with before its hash; "" for an unlabelled key.
func (k Key) Label() string {
	i := strings.LastIndex(k.ID, "/")
	if i < 0 {
		return ""
	}
	return k.ID[:i]
}

// maxLabel keeps a key ID well under kube-apiserver's 1 KiB limit.
const maxLabel = 256

// namedByHash reports whether id is the key's own hash, labelled or not.
func namedByHash(id string, secret []byte) bool {
	h := idOf(secret)
	if id == h {
		return true
	}
	label, ok := strings.CutSuffix(id, "/"+h)
	return ok && label != "" && len(label) <= maxLabel
}

// idOf names a key by a hash of it: stable, unique and revealing nothing. It
// is what kube-apiserver stores beside every Secret it seals under the key.
func idOf(secret []byte) string {
	sum := sha256.Sum256(append([]byte("cellplane kms key id\x00"), secret...))
	return "cellplane:" + hex.EncodeToString(sum[:8])
}

// Get returns the key named id.
func (s Set) Get(id string) (Key, bool) {
	i := slices.IndexFunc(s.Keys, func(k Key) bool { return k.ID == id })
	if i < 0 {
		return Key{}, false
	}
	return s.Keys[i], true
}

// PrimaryKey returns the key that seals new data keys.
func (s Set) PrimaryKey() Key {
	k, _ := s.Get(s.Primary)
	return k
}

// Merge returns s with the keys of o it lacks; s's primary stays. A cluster
// restored from another's backup merges the source's keys to read its data.
func (s Set) Merge(o Set) Set {
	out := Set{Primary: s.Primary, Keys: slices.Clone(s.Keys)}
	for _, k := range o.Keys {
		if _, ok := out.Get(k.ID); !ok {
			out.Keys = append(out.Keys, k)
		}
	}
	return out
}

// Contains reports whether s holds every key of o.
func (s Set) Contains(o Set) bool {
	for _, k := range o.Keys {
		if _, ok := s.Get(k.ID); !ok {
			return false
		}
	}
	return true
}

// Validate checks that s is usable: it has a primary among its keys, every
// key has the right size and is named by its own hash, and no ID repeats.
func (s Set) Validate() error {
	if len(s.Keys) == 0 {
		return fmt.Errorf("%w: no keys", ErrInvalid)
	}
	seen := map[string]bool{}
	for _, k := range s.Keys {
		switch {
		case len(k.Secret) != KeySize:
			return fmt.Errorf("%w: key %s is %d bytes, want %d", ErrInvalid, k.ID, len(k.Secret), KeySize)
		case !namedByHash(k.ID, k.Secret):
			return fmt.Errorf("%w: key %q is not named by its hash", ErrInvalid, k.ID)
		case seen[k.ID]:
			return fmt.Errorf("%w: key %s given twice", ErrInvalid, k.ID)
		}
		seen[k.ID] = true
	}
	if !seen[s.Primary] {
		return fmt.Errorf("%w: primary %q is not among its keys", ErrInvalid, s.Primary)
	}
	return nil
}

// Marshal encodes s in the clear: for the plugin's environment and for a
// backup object that is itself encrypted. Never write it to a file as is.
func (s Set) Marshal() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// Unmarshal decodes and validates what Marshal encoded.
func Unmarshal(data []byte) (Set, error) {
	var s Set
	if err := json.Unmarshal(data, &s); err != nil {
		return Set{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := s.Validate(); err != nil {
		return Set{}, err
	}
	return s, nil
}
