package secrets

import (
	"context"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/kms/plugin"
)

const customerKey = "5f1c8a2e-7b3d-4c9e-a1f0-2d3e4f5a6b7c"

func bind(c *v1alpha1.Cluster, state string, generation int64) {
	c.Spec.Encryption = &v1alpha1.EncryptionSpec{KeyARN: "arn:aws:kms:local:000000000000:key/" + customerKey,
		KeyID: customerKey, KeyState: state, KeyGeneration: generation}
}

func disabledEnv(p *controlplane.Plan) (string, bool) {
	for _, e := range p.Spec(p.Members(controlplane.KindKMSPlugin)[0]).Env {
		if v, ok := strings.CutPrefix(e, plugin.DisabledEnv+"="); ok {
			return v, true
		}
	}
	return "", false
}

// TestCustomerKeyNamesTheKeys: a cluster created bound to a customer key
// names its first key after it; the key's rotation (a higher generation)
// makes a new primary named after the new generation and retires the old
// key, once.
func TestCustomerKeyNamesTheKeys(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := cluster("bound", 2)
	bind(c, v1alpha1.KeyStateEnabled, 1)
	p := h.plan(c)
	if err := h.concern.Reconcile(ctx, c, p); !errors.Is(err, tenant.ErrReplan) {
		t.Fatal(err)
	}
	first, _ := h.keys.Load(ctx, p.Dir())
	if !strings.HasPrefix(first.Primary, customerKey+"/1/cellplane:") {
		t.Fatalf("first key %s is not named after the customer key", first.Primary)
	}
	c.Status.Status = v1alpha1.StatusActive
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); err != nil {
		t.Fatalf("Reconcile with the key unchanged = %v", err)
	}

	bind(c, v1alpha1.KeyStateEnabled, 2)
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); !errors.Is(err, tenant.ErrReplan) {
		t.Fatalf("Reconcile after the customer key rotated = %v, want ErrReplan", err)
	}
	rotated, _ := h.keys.Load(ctx, p.Dir())
	if !strings.HasPrefix(rotated.Primary, customerKey+"/2/") || !rotated.Contains(first) {
		t.Fatalf("after the rotation: %+v; want a primary of generation 2 beside %s", rotated, first.Primary)
	}
	rot, _ := loadRotation(p.Dir())
	if len(rot.Retiring) != 1 || rot.Retiring[0] != first.Primary {
		t.Fatalf("rotation record %+v; want %s retiring", rot, first.Primary)
	}
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); err != nil {
		t.Fatalf("Reconcile again = %v; want the rotation made once", err)
	}
}

// TestAssociationRotatesToTheCustomerKey: a cluster that had its own key
// gets one named after the customer key once associated.
func TestAssociationRotatesToTheCustomerKey(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := cluster("later", 3)
	p := h.plan(c)
	if err := h.concern.Reconcile(ctx, c, p); !errors.Is(err, tenant.ErrReplan) {
		t.Fatal(err)
	}
	c.Status.Status = v1alpha1.StatusActive
	bind(c, v1alpha1.KeyStateEnabled, 4)
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); !errors.Is(err, tenant.ErrReplan) {
		t.Fatalf("Reconcile after association = %v, want ErrReplan", err)
	}
	set, _ := h.keys.Load(ctx, p.Dir())
	if !strings.HasPrefix(set.Primary, customerKey+"/4/") || len(set.Keys) != 2 {
		t.Fatalf("after association: %+v", set)
	}
}

// TestDisabledKeyLeavesPluginsWithoutKeys: a disabled key takes the keys out
// of the plugins' environment and reports KeyDisabled; the keys stay in the
// cell, and enabling the key hands them back.
func TestDisabledKeyLeavesPluginsWithoutKeys(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := cluster("off", 4)
	bind(c, v1alpha1.KeyStateEnabled, 1)
	p := h.plan(c)
	if err := h.concern.Reconcile(ctx, c, p); !errors.Is(err, tenant.ErrReplan) {
		t.Fatal(err)
	}
	c.Status.Status = v1alpha1.StatusActive
	before, _ := h.keys.Load(ctx, p.Dir())

	bind(c, v1alpha1.KeyStateDisabled, 1)
	p = h.plan(c)
	if env := pluginEnv(p); env != "" {
		t.Fatalf("a disabled key's plugins get keys: %q", env)
	}
	if reason, ok := disabledEnv(p); !ok || !strings.Contains(reason, customerKey) {
		t.Fatalf("the plugins are not told the key is disabled: %q", reason)
	}
	if err := h.concern.Reconcile(ctx, c, p); err != nil {
		t.Fatalf("Reconcile with the key disabled = %v", err)
	}
	cond := meta.FindStatusCondition(c.Status.Conditions, ConditionSecretsEncryption)
	if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != v1alpha1.ReasonKeyDisabled {
		t.Fatalf("%s = %+v; want False, KeyDisabled", ConditionSecretsEncryption, cond)
	}
	// A rotation of a disabled key cannot be carried: it waits.
	bind(c, v1alpha1.KeyStateDisabled, 2)
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); err != nil {
		t.Fatalf("Reconcile of a disabled key's rotation = %v", err)
	}
	if kept, _ := h.keys.Load(ctx, p.Dir()); kept.Primary != before.Primary || len(kept.Keys) != 1 {
		t.Fatalf("the keys changed while the key was disabled: %+v", kept)
	}

	bind(c, v1alpha1.KeyStateEnabled, 1)
	got, err := plugin.DecodeKeyset(pluginEnv(h.plan(c)))
	if err != nil || got.Primary != before.Primary {
		t.Fatalf("after EnableKey the plugins get %+v (%v); want key %s", got, err, before.Primary)
	}
	if _, ok := disabledEnv(h.plan(c)); ok {
		t.Fatal("the plugins are still told the key is disabled")
	}
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); err != nil {
		t.Fatalf("Reconcile after EnableKey = %v", err)
	}
	checkCondition(t, c, metav1.ConditionTrue, before.Primary)
}

// TestRotationReportsRotatingUntilRetired: the pass that starts a rotation
// reports it Rotating, not done, so nobody waiting for it stops early.
func TestRotationReportsRotatingUntilRetired(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := cluster("waiting", 5)
	bind(c, v1alpha1.KeyStateEnabled, 1)
	p := h.plan(c)
	if err := h.concern.Reconcile(ctx, c, p); !errors.Is(err, tenant.ErrReplan) {
		t.Fatal(err)
	}
	if cond := meta.FindStatusCondition(c.Status.Conditions, ConditionSecretsEncryption); cond.Reason != v1alpha1.ReasonSecretsSealed {
		t.Fatalf("a fresh keyset reports %s", cond.Reason)
	}
	c.Status.Status = v1alpha1.StatusActive
	bind(c, v1alpha1.KeyStateEnabled, 2)
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); !errors.Is(err, tenant.ErrReplan) {
		t.Fatal(err)
	}
	if cond := meta.FindStatusCondition(c.Status.Conditions, ConditionSecretsEncryption); cond.Reason != v1alpha1.ReasonSecretsRotating {
		t.Fatalf("the pass that starts a rotation reports %s: %s", cond.Reason, cond.Message)
	}
	set, _ := h.keys.Load(ctx, p.Dir())
	rot, _ := loadRotation(p.Dir())
	if err := h.concern.retire(ctx, c, p, set, rot); err != nil {
		t.Fatal(err)
	}
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); err != nil {
		t.Fatal(err)
	}
	if cond := meta.FindStatusCondition(c.Status.Conditions, ConditionSecretsEncryption); cond.Reason != v1alpha1.ReasonSecretsSealed || !strings.Contains(cond.Message, "(1 keys held)") {
		t.Fatalf("after retiring: %s %s", cond.Reason, cond.Message)
	}
}

// TestLostRotationRecordIsRemade: a crash after the keyset of a customer
// key's rotation was saved, before its record was, still retires the old key.
func TestLostRotationRecordIsRemade(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := cluster("crashed", 6)
	bind(c, v1alpha1.KeyStateEnabled, 1)
	p := h.plan(c)
	if err := h.concern.Reconcile(ctx, c, p); !errors.Is(err, tenant.ErrReplan) {
		t.Fatal(err)
	}
	c.Status.Status = v1alpha1.StatusActive
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); err != nil {
		t.Fatal(err)
	}
	first, _ := h.keys.Load(ctx, p.Dir())
	bind(c, v1alpha1.KeyStateEnabled, 2)
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); !errors.Is(err, tenant.ErrReplan) {
		t.Fatal(err)
	}
	before, _ := loadRotation(p.Dir())
	// The crash: the record goes back to what it was before the rotation.
	if err := saveRotation(p.Dir(), rotation{Label: KeyLabel(c)[:len(KeyLabel(c))-1] + "1"}); err != nil {
		t.Fatal(err)
	}
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); err != nil {
		t.Fatalf("Reconcile after the crash = %v", err)
	}
	rot, _ := loadRotation(p.Dir())
	if len(rot.Retiring) != 1 || rot.Retiring[0] != first.Primary || rot.Label != KeyLabel(c) {
		t.Fatalf("record after the crash %+v (before it %+v); want %s retiring", rot, before, first.Primary)
	}
	if set, _ := h.keys.Load(ctx, p.Dir()); len(set.Keys) != 2 {
		t.Fatalf("the crash cost a rotation more: %d keys", len(set.Keys))
	}
}
