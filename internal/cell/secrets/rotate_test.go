package secrets

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/kms/plugin"
)

// TestRotationRequest: a request newer than the last rotation makes a new
// primary and keeps the old key until the Secrets are rewritten; the same
// request again changes nothing, and a cluster not ACTIVE waits.
func TestRotationRequest(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := cluster("demo", 6)
	p := h.plan(c)
	if err := h.concern.Reconcile(ctx, c, p); !errors.Is(err, tenant.ErrReplan) {
		t.Fatal(err)
	}
	first, _ := h.keys.Load(ctx, p.Dir())

	at := time.Now().UTC()
	c.Annotations = map[string]string{v1alpha1.AnnotationKeyRotationRequested: at.Format(time.RFC3339Nano)}
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); err != nil {
		t.Fatalf("Reconcile of a cluster still CREATING = %v; want the request to wait", err)
	}
	c.Status.Status = v1alpha1.StatusActive
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); !errors.Is(err, tenant.ErrReplan) {
		t.Fatalf("Reconcile with a rotation request = %v, want ErrReplan", err)
	}
	rotated, _ := h.keys.Load(ctx, p.Dir())
	if rotated.Primary == first.Primary || !rotated.Contains(first) || len(rotated.Keys) != 2 {
		t.Fatalf("after the request: %+v; want a new primary beside %s", rotated, first.Primary)
	}
	rot, err := loadRotation(p.Dir())
	if err != nil || !rot.RequestedAt.Equal(at) || len(rot.Retiring) != 1 || rot.Retiring[0] != first.Primary {
		t.Fatalf("rotation record %+v, %v", rot, err)
	}
	checkCondition(t, c, "True", rotated.Primary)
	got, err := plugin.DecodeKeyset(pluginEnv(h.plan(c)))
	if err != nil || got.Primary != rotated.Primary || len(got.Keys) != 2 {
		t.Errorf("the plugins get %+v (%v), want both keys, the new one primary", got, err)
	}
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); err != nil {
		t.Fatalf("Reconcile of the same request again = %v", err)
	}
	if again, _ := h.keys.Load(ctx, p.Dir()); len(again.Keys) != 2 {
		t.Errorf("the same request rotated twice: %d keys", len(again.Keys))
	}

	// Retiring drops exactly the old keys.
	if err := h.concern.retire(ctx, c, p, rotated, rot); err != nil {
		t.Fatal(err)
	}
	final, _ := h.keys.Load(ctx, p.Dir())
	if final.Primary != rotated.Primary || len(final.Keys) != 1 || final.Contains(first) {
		t.Errorf("after retiring: %+v", final)
	}
	if rot, _ := loadRotation(p.Dir()); len(rot.Retiring) != 0 || rot.FinishedAt == nil {
		t.Errorf("rotation record after retiring: %+v", rot)
	}
}

func TestSealedKeyID(t *testing.T) {
	// An EncryptedObject: field 1 (encryptedData, 200 bytes: a two-byte
	// length), field 2 (keyID).
	obj := append([]byte{0x0a, 0xc8, 0x01}, make([]byte, 200)...)
	obj = append(obj, 0x12, byte(len("cellplane:abc")))
	obj = append(obj, "cellplane:abc"...)
	if id, ok := SealedKeyID(append([]byte(sealedPrefix), obj...)); !ok || id != "cellplane:abc" {
		t.Errorf("SealedKeyID = %q, %v", id, ok)
	}
	if _, ok := SealedKeyID([]byte(`{"kind":"Secret"}`)); ok {
		t.Error("a value in the clear counts as sealed")
	}
	if id, ok := SealedKeyID([]byte(sealedPrefix + "\xff")); !ok || id != "" {
		t.Errorf("SealedKeyID(damaged) = %q, %v", id, ok)
	}
}
