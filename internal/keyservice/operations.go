package keyservice

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// keyMetadata is AWS KMS's KeyMetadata; dates are epoch seconds, as the
// JSON 1.1 protocol writes timestamps.
type keyMetadata struct {
	AWSAccountID          string   `json:"AWSAccountId"`
	KeyID                 string   `json:"KeyId"`
	Arn                   string   `json:"Arn"`
	CreationDate          float64  `json:"CreationDate"`
	Enabled               bool     `json:"Enabled"`
	Description           string   `json:"Description"`
	KeyUsage              string   `json:"KeyUsage"`
	KeyState              string   `json:"KeyState"`
	Origin                string   `json:"Origin"`
	KeyManager            string   `json:"KeyManager"`
	KeySpec               string   `json:"KeySpec"`
	CustomerMasterKeySpec string   `json:"CustomerMasterKeySpec"`
	EncryptionAlgorithms  []string `json:"EncryptionAlgorithms"`
	MultiRegion           bool     `json:"MultiRegion"`
}

const symmetric = "SYMMETRIC_DEFAULT"

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func metadataOf(k *Key) keyMetadata {
	return keyMetadata{
		AWSAccountID: k.Account, KeyID: k.Spec.KeyID, Arn: k.ARN, CreationDate: epoch(k.CreationTimestamp.Time),
		Enabled: k.Spec.State == v1alpha1.KeyStateEnabled, Description: k.Spec.Description,
		KeyUsage: "ENCRYPT_DECRYPT", KeyState: k.Spec.State, Origin: "AWS_KMS", KeyManager: "CUSTOMER",
		KeySpec: symmetric, CustomerMasterKeySpec: symmetric, EncryptionAlgorithms: []string{symmetric},
	}
}

type keyMetadataOutput struct {
	KeyMetadata keyMetadata `json:"KeyMetadata"`
}

type createKeyInput struct {
	Description           string `json:"Description"`
	KeyUsage              string `json:"KeyUsage"`
	KeySpec               string `json:"KeySpec"`
	CustomerMasterKeySpec string `json:"CustomerMasterKeySpec"`
	Origin                string `json:"Origin"`
	MultiRegion           bool   `json:"MultiRegion"`
}

// validate accepts what the key service makes: symmetric encryption keys
// with their material generated here. Other valid KMS choices are refused as
// unsupported, anything else as invalid.
func (in *createKeyInput) validate() error {
	for _, f := range []struct{ name, value, want string }{
		{"KeyUsage", in.KeyUsage, "ENCRYPT_DECRYPT"},
		{"KeySpec", in.KeySpec, symmetric},
		{"CustomerMasterKeySpec", in.CustomerMasterKeySpec, symmetric},
		{"Origin", in.Origin, "AWS_KMS"},
	} {
		if f.value != "" && f.value != f.want {
			return fmt.Errorf("%w: %s %s: the key service makes only %s keys", ErrUnsupported, f.name, f.value, f.want)
		}
	}
	if in.MultiRegion {
		return fmt.Errorf("%w: multi-Region keys", ErrUnsupported)
	}
	return nil
}

func (h *Handler) createKey(r *http.Request, account string) (any, error) {
	var in createKeyInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	k, err := h.Keys.Create(r.Context(), account, in.Description)
	if err != nil {
		return nil, err
	}
	return keyMetadataOutput{metadataOf(k)}, nil
}

type keyIDInput struct {
	KeyID string `json:"KeyId"`
}

func (h *Handler) keyOf(r *http.Request, account string) (*Key, error) {
	var in keyIDInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return h.Keys.Get(r.Context(), account, in.KeyID)
}

func (h *Handler) describeKey(r *http.Request, account string) (any, error) {
	k, err := h.keyOf(r, account)
	if err != nil {
		return nil, err
	}
	return keyMetadataOutput{metadataOf(k)}, nil
}

type pageInput struct {
	KeyID  string `json:"KeyId"`
	Limit  *int   `json:"Limit"`
	Marker string `json:"Marker"`
}

// limit is the page size: 1 to 1000, 100 unless given, as AWS KMS.
func (in *pageInput) limit() (int, error) {
	if in.Limit == nil {
		return 100, nil
	}
	if *in.Limit < 1 || *in.Limit > 1000 {
		return 0, fmt.Errorf("%w: Limit must be from 1 to 1000; got %d", ErrValidation, *in.Limit)
	}
	return *in.Limit, nil
}

// page cuts n items after marker (the last item of the previous page) out
// of names, which are sorted.
func page(names []string, marker string, n int) (from, to int, err error) {
	if marker != "" {
		i, found := slices.BinarySearch(names, marker)
		if !found {
			return 0, 0, fmt.Errorf("%w: Marker %q is not one this service gave", ErrValidation, marker)
		}
		from = i + 1
	}
	return from, min(from+n, len(names)), nil
}

type keyListEntry struct {
	KeyID  string `json:"KeyId"`
	KeyArn string `json:"KeyArn"`
}

type listKeysOutput struct {
	Keys       []keyListEntry `json:"Keys"`
	Truncated  bool           `json:"Truncated"`
	NextMarker string         `json:"NextMarker,omitempty"`
}

func (h *Handler) listKeys(r *http.Request, account string) (any, error) {
	var in pageInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	n, err := in.limit()
	if err != nil {
		return nil, err
	}
	keys, err := h.Keys.List(r.Context(), account)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.Spec.KeyID
	}
	from, to, err := page(ids, in.Marker, n)
	if err != nil {
		return nil, err
	}
	out := listKeysOutput{Keys: []keyListEntry{}}
	for _, k := range keys[from:to] {
		out.Keys = append(out.Keys, keyListEntry{KeyID: k.Spec.KeyID, KeyArn: k.ARN})
	}
	if to < len(keys) {
		out.Truncated, out.NextMarker = true, ids[to-1]
	}
	return out, nil
}

func (h *Handler) enableKey(r *http.Request, account string) (any, error) {
	return h.setState(r, account, v1alpha1.KeyStateEnabled)
}

func (h *Handler) disableKey(r *http.Request, account string) (any, error) {
	return h.setState(r, account, v1alpha1.KeyStateDisabled)
}

// setState stores the key's new state, then copies it into its clusters; a
// failed copy is not the caller's error (the key changed, and the binder's
// resync finishes the copy), only logged.
func (h *Handler) setState(r *http.Request, account, state string) (any, error) {
	var in keyIDInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	k, err := h.Keys.SetState(r.Context(), account, in.KeyID, state)
	if err != nil {
		return nil, err
	}
	h.bind(r, k)
	return struct{}{}, nil
}

func (h *Handler) bind(r *http.Request, k *Key) {
	if h.Binder == nil {
		return
	}
	if err := h.Binder.Bind(r.Context(), k); err != nil {
		h.Logger.Warn("copying the key into its clusters; the resync retries", "key", k.Spec.KeyID, "err", err)
	}
}

type rotateOutput struct {
	KeyID string `json:"KeyId"`
}

func (h *Handler) rotateKeyOnDemand(r *http.Request, account string) (any, error) {
	var in keyIDInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	k, err := h.Keys.Rotate(r.Context(), account, in.KeyID)
	if err != nil {
		return nil, err
	}
	h.bind(r, k)
	return rotateOutput{KeyID: k.Spec.KeyID}, nil
}

type rotationEntry struct {
	KeyID        string  `json:"KeyId"`
	RotationDate float64 `json:"RotationDate"`
	RotationType string  `json:"RotationType"`
}

type listRotationsOutput struct {
	Rotations  []rotationEntry `json:"Rotations"`
	Truncated  bool            `json:"Truncated"`
	NextMarker string          `json:"NextMarker,omitempty"`
}

func (h *Handler) listKeyRotations(r *http.Request, account string) (any, error) {
	var in pageInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	n, err := in.limit()
	if err != nil {
		return nil, err
	}
	k, err := h.Keys.Get(r.Context(), account, in.KeyID)
	if err != nil {
		return nil, err
	}
	gens := make([]string, len(k.Spec.Rotations))
	for i, rot := range k.Spec.Rotations {
		gens[i] = fmt.Sprintf("%020d", rot.Generation) // sorted as numbers
	}
	from, to, err := page(gens, in.Marker, n)
	if err != nil {
		return nil, err
	}
	out := listRotationsOutput{Rotations: []rotationEntry{}}
	for _, rot := range k.Spec.Rotations[from:to] {
		out.Rotations = append(out.Rotations, rotationEntry{KeyID: k.Spec.KeyID, RotationDate: epoch(rot.RotatedAt.Time), RotationType: "ON_DEMAND"})
	}
	if to < len(gens) {
		out.Truncated, out.NextMarker = true, gens[to-1]
	}
	return out, nil
}
