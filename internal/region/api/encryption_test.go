package api

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/keyservice"
)

// withKeys gives the API the region's key service on the test store.
func withKeys(t *testing.T) (harnessOption, *keyservice.Store) {
	keys := &keyservice.Store{Client: env.Client(t), Region: DefaultRegion}
	return func(s *harnessSetup) { s.cfg.Keys = keys }, keys
}

func (h *harness) key(keys *keyservice.Store, account string) *keyservice.Key {
	h.t.Helper()
	k, err := keys.Create(context.Background(), account, "")
	if err != nil {
		h.t.Fatal(err)
	}
	return k
}

func encryptionFor(arn string) []eks.EncryptionConfig {
	return []eks.EncryptionConfig{{Resources: []string{"secrets"}, Provider: &eks.Provider{KeyArn: arn}}}
}

// TestCreateWithEncryptionConfig: the key is stored in the spec with its
// state and generation, and DescribeCluster shows it.
func TestCreateWithEncryptionConfig(t *testing.T) {
	opt, keys := withKeys(t)
	h := newHarness(t, opt)
	k := h.key(keys, h.account)
	got := h.create(eks.CreateClusterInput{Name: "sealed", EncryptionConfig: encryptionFor(k.ARN)})
	if len(got.EncryptionConfig) != 1 || got.EncryptionConfig[0].Provider.KeyArn != k.ARN {
		t.Fatalf("create answered encryptionConfig %+v", got.EncryptionConfig)
	}
	want := v1alpha1.EncryptionSpec{KeyARN: k.ARN, KeyID: k.Spec.KeyID, KeyState: v1alpha1.KeyStateEnabled, KeyGeneration: 1}
	if e := h.stored("sealed").Spec.Encryption; e == nil || *e != want {
		t.Fatalf("stored encryption %+v, want %+v", e, want)
	}
	if d := h.do("GET", "/clusters/sealed", nil).cluster(t); len(d.EncryptionConfig) != 1 || len(d.Health.Issues) != 0 {
		t.Fatalf("describe: encryptionConfig %+v, health %+v", d.EncryptionConfig, d.Health)
	}
}

// TestBadEncryptionConfigStoresNothing: every bad encryptionConfig is an
// InvalidParameterException and leaves the store as it was.
func TestBadEncryptionConfigStoresNothing(t *testing.T) {
	opt, keys := withKeys(t)
	h := newHarness(t, opt)
	k := h.key(keys, h.account)
	off := h.key(keys, h.account)
	if _, err := keys.SetState(context.Background(), h.account, off.Spec.KeyID, v1alpha1.KeyStateDisabled); err != nil {
		t.Fatal(err)
	}
	foreign := h.key(keys, env.Account())
	for _, tc := range []struct {
		name string
		cfg  []eks.EncryptionConfig
		msg  string
	}{
		{"two-entries", append(encryptionFor(k.ARN), encryptionFor(k.ARN)...), "one entry"},
		{"configmaps", []eks.EncryptionConfig{{Resources: []string{"configmaps"}, Provider: &eks.Provider{KeyArn: k.ARN}}}, `must be ["secrets"]`},
		{"no-resources", []eks.EncryptionConfig{{Provider: &eks.Provider{KeyArn: k.ARN}}}, `must be ["secrets"]`},
		{"no-provider", []eks.EncryptionConfig{{Resources: []string{"secrets"}}}, "keyArn is required"},
		{"missing-key", encryptionFor(strings.Replace(k.ARN, k.Spec.KeyID, "00000000-0000-4000-8000-000000000000", 1)), "does not exist"},
		{"foreign-key", encryptionFor(foreign.ARN), "does not exist"},
		{"disabled-key", encryptionFor(off.ARN), "Disabled"},
		{"bare-key-id", encryptionFor(k.Spec.KeyID), "by its ARN"},
		{"alias", encryptionFor("alias/prod"), "aliases"},
	} {
		h.do("POST", "/clusters", eks.CreateClusterInput{Name: "bad-" + tc.name, EncryptionConfig: tc.cfg}).
			wantError(t, 400, eks.InvalidParameterException, tc.msg)
	}
	if clusters, _ := h.count(); clusters != 0 {
		t.Fatalf("refused creates stored %d clusters", clusters)
	}
}

// TestEncryptionConfigWithoutKeyService: a region without a key service
// refuses encryptionConfig instead of ignoring it.
func TestEncryptionConfigWithoutKeyService(t *testing.T) {
	h := newHarness(t)
	h.do("POST", "/clusters", eks.CreateClusterInput{Name: "nokeys", EncryptionConfig: encryptionFor("arn:aws:kms:local:000000000000:key/00000000-0000-4000-8000-000000000000")}).
		wantError(t, 400, eks.InvalidParameterException, "no key service")
	if clusters, _ := h.count(); clusters != 0 {
		t.Fatalf("a refused create stored %d clusters", clusters)
	}
}

// TestAssociateEncryptionConfig: association stores the key and records an
// InProgress update, which turns Successful once the cell reports Secrets
// sealed under a key named after it; a second association is refused with
// nothing changed, and so are bad inputs.
func TestAssociateEncryptionConfig(t *testing.T) {
	opt, keys := withKeys(t)
	h := newHarness(t, opt)
	k := h.key(keys, h.account)
	h.create(eks.CreateClusterInput{Name: "later"})
	path := "/clusters/later/encryption-config/associate"
	body := eks.AssociateEncryptionConfigInput{EncryptionConfig: encryptionFor(k.ARN)}
	h.do("POST", path, body).wantError(t, 409, eks.ResourceInUseException, "only when ACTIVE")
	h.pushStatus("later", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive})

	h.do("POST", path, eks.AssociateEncryptionConfigInput{}).wantError(t, 400, eks.InvalidParameterException, "encryptionConfig is required")
	h.do("POST", path, eks.AssociateEncryptionConfigInput{EncryptionConfig: encryptionFor(k.Spec.KeyID)}).wantError(t, 400, eks.InvalidParameterException, "by its ARN")
	h.do("POST", "/clusters/nope/encryption-config/associate", body).wantError(t, 404, eks.ResourceNotFoundException, "nope")
	h.do("GET", path, nil).wantError(t, 405, eks.ClientException, "use POST")
	if e := h.stored("later").Spec.Encryption; e != nil || h.updateCount() != 0 {
		t.Fatalf("bad associations changed the cluster: %+v, %d updates", e, h.updateCount())
	}

	u := h.do("POST", path, body).update(t)
	if u.Type != eks.UpdateTypeAssociateEncryptionConfig || u.Status != eks.UpdateStatusInProgress ||
		len(u.Params) != 1 || u.Params[0].Type != eks.UpdateParamEncryptionConfig || !strings.Contains(u.Params[0].Value, k.ARN) {
		t.Fatalf("update %+v", u)
	}
	if e := h.stored("later").Spec.Encryption; e == nil || e.KeyID != k.Spec.KeyID {
		t.Fatalf("stored encryption %+v", e)
	}
	h.do("POST", path, body).wantError(t, 400, eks.InvalidRequestException, "already has an encryption config")
	// The SDKs fill in a token of their own: a new one is another call.
	withToken := body
	withToken.ClientRequestToken = "another-call"
	h.do("POST", path, withToken).wantError(t, 400, eks.InvalidRequestException, "already has an encryption config")
	if n := h.updateCount(); n != 1 {
		t.Fatalf("%d updates after a refused second association", n)
	}

	// The cell reports the rotation to the customer key finished.
	c := h.stored("later")
	c.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionSecretsEncryption, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonSecretsSealed,
		Message: "Secrets are sealed by the KMS v2 plugins under key " + k.Spec.KeyID + "/1/cellplane:0123 (1 keys held)", LastTransitionTime: metav1.Now()}}
	h.pushStatus("later", c.Status)
	if got := h.do("GET", "/clusters/later/updates/"+u.ID, nil).update(t); got.Status != eks.UpdateStatusSuccessful {
		t.Fatalf("after the cell settled the update is %s", got.Status)
	}
}

// TestDisabledKeyIsAHealthIssue: a cluster whose key is disabled shows
// KmsKeyDisabled in its health, from the region's copy or the cell's report.
func TestDisabledKeyIsAHealthIssue(t *testing.T) {
	opt, keys := withKeys(t)
	h := newHarness(t, opt)
	k := h.key(keys, h.account)
	h.create(eks.CreateClusterInput{Name: "off", EncryptionConfig: encryptionFor(k.ARN)})
	c := h.stored("off")
	c.Spec.Encryption.KeyState = v1alpha1.KeyStateDisabled
	if err := h.store.Update(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	d := h.do("GET", "/clusters/off", nil).cluster(t)
	if len(d.Health.Issues) != 1 || d.Health.Issues[0].Code != eks.IssueKmsKeyDisabled || d.Health.Issues[0].ResourceIDs[0] != k.ARN {
		t.Fatalf("health %+v; want KmsKeyDisabled naming %s", d.Health, k.ARN)
	}
}

// TestAssociateRetryAfterCrash: a call that stored the key and was cut short
// before recording its update records it when retried with its token.
func TestAssociateRetryAfterCrash(t *testing.T) {
	opt, keys := withKeys(t)
	h := newHarness(t, opt)
	k := h.key(keys, h.account)
	h.activeCluster("cut")
	c := h.stored("cut")
	spec, err := keys.Resolve(context.Background(), h.account, k.ARN)
	if err != nil {
		t.Fatal(err)
	}
	c.Spec.Encryption = &spec
	c.Annotations[annotationAssociatedBy] = "tok-1"
	if err := h.store.Update(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	body := eks.AssociateEncryptionConfigInput{EncryptionConfig: encryptionFor(k.ARN), ClientRequestToken: "tok-1"}
	u := h.do("POST", "/clusters/cut/encryption-config/associate", body).update(t)
	if u.Type != eks.UpdateTypeAssociateEncryptionConfig || h.updateCount() != 1 {
		t.Fatalf("the retry answered %+v with %d updates", u, h.updateCount())
	}
	if again := h.do("POST", "/clusters/cut/encryption-config/associate", body).update(t); again.ID != u.ID {
		t.Fatalf("a second retry made update %s, the first %s", again.ID, u.ID)
	}
}
