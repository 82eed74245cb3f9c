package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/kms/keyset"
	"github.com/cellplane/cellplane/internal/pki"
)

// Etcd reads what the cluster's etcd stores; the cell's etcdconn.Conn
// implements it.
type Etcd interface {
	Values(ctx context.Context, prefix string, f func(key string, value []byte)) error
}

// rotation is a key rotation in progress or done, kept beside the keyset.
type rotation struct {
	// RequestedAt is the request this rotation answers.
	RequestedAt time.Time `json:"requestedAt"`
	// Retiring are the keys to drop once no Secret is sealed under them.
	Retiring []string `json:"retiring,omitempty"`
	// FinishedAt is when the old keys were dropped.
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	// Label is the customer key generation the rotation moved to (see
	// KeyLabel), "" for none.
	Label string `json:"label,omitempty"`
}

func rotationPath(clusterDir string) string { return filepath.Join(clusterDir, "kms", "rotation.json") }

func loadRotation(clusterDir string) (rotation, error) {
	var rot rotation
	data, err := os.ReadFile(rotationPath(clusterDir))
	if errors.Is(err, fs.ErrNotExist) {
		return rot, nil
	}
	if err != nil {
		return rot, fmt.Errorf("reading the key rotation record: %w", err)
	}
	if err := json.Unmarshal(data, &rot); err != nil {
		return rot, fmt.Errorf("reading the key rotation record: %w", err)
	}
	return rot, nil
}

func saveRotation(clusterDir string, rot rotation) error {
	data, err := json.Marshal(rot)
	if err != nil {
		return err
	}
	if err := pki.WriteFileAtomic(rotationPath(clusterDir), data, 0o600); err != nil {
		return fmt.Errorf("writing the key rotation record: %w", err)
	}
	return nil
}

// requestedRotation is the time of the cluster's rotation request, if any.
func requestedRotation(c *v1alpha1.Cluster) (time.Time, bool) {
	v, ok := c.Annotations[v1alpha1.AnnotationKeyRotationRequested]
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// startRotation answers a new rotation request, or a customer key the
// primary is not named after (a key just associated, or rotated: its
// generation grew): a new key, named after the customer key, becomes the
// primary, and every older key is to retire. The keyset is saved before the
// record, so a crash between the two costs one more key, never a lost one;
// a crash after the keyset is saved finds the primary named right, so the
// customer key's rotation is not made twice.
func (r *Concern) startRotation(ctx context.Context, c *v1alpha1.Cluster, dir string, set *keyset.Set) (bool, error) {
	if c.Status.Status != v1alpha1.StatusActive {
		return false, nil
	}
	rot, err := loadRotation(dir)
	if err != nil {
		return false, err
	}
	req, asked := requestedRotation(c)
	asked = asked && req.After(rot.RequestedAt)
	label := KeyLabel(c)
	if !asked && set.PrimaryKey().Label() == label {
		if label != "" && rot.Label != label {
			// The primary is named after the customer key but no record
			// says so: the keyset was saved and the record lost to a crash
			// (or the keyset was made for the key). The keys beside the
			// primary are then still to retire.
			return false, saveRotation(dir, rotation{RequestedAt: rot.RequestedAt, Retiring: othersThan(*set), Label: label})
		}
		return false, nil
	}
	if !asked {
		req = rot.RequestedAt // still the last request answered
	}
	k := keyset.NewLabelledKey(label)
	var retiring []string
	for _, old := range set.Keys {
		retiring = append(retiring, old.ID)
	}
	*set = keyset.Set{Primary: k.ID, Keys: append(slices.Clone(set.Keys), k)}
	if err := r.Keys.Save(ctx, dir, *set); err != nil {
		return false, err
	}
	if err := saveRotation(dir, rotation{RequestedAt: req, Retiring: retiring, Label: label}); err != nil {
		return false, err
	}
	tenant.Logger(r.Logger, c).Info("rotating the cluster's key for Secrets", "key", k.ID, "retiring", retiring)
	return true, nil
}

// othersThan is every key of set but its primary.
func othersThan(set keyset.Set) []string {
	var out []string
	for _, k := range set.Keys {
		if k.ID != set.Primary {
			out = append(out, k.ID)
		}
	}
	return out
}

// rewrap carries a rotation on once the plugins hold the new key: it checks
// that each API server seals under it (writing a canary Secret through it),
// rewrites every Secret (an unchanged update is stored again when its value
// was sealed under another key, which is how kube-apiserver migrates
// storage), and once etcd shows no Secret under a retiring key, drops those
// keys. It returns what it is waiting for, "" once done or idle.
func (r *Concern) rewrap(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) (string, error) {
	rot, err := loadRotation(p.Dir())
	if err != nil || len(rot.Retiring) == 0 {
		return "", err
	}
	set, err := r.Keys.Load(ctx, p.Dir())
	if err != nil {
		return "", err
	}
	etcd, err := r.Dial(p)
	if err != nil {
		return "", err
	}
	var behind []string
	for _, api := range p.Members(controlplane.KindAPIServer) {
		cs, err := adminClient(p, api)
		if err != nil {
			return "", err
		}
		sealed, err := canary(ctx, cs, etcd, api)
		if err != nil {
			return "", err
		}
		if sealed != set.Primary {
			// The API server asks its plugin for the key ID at its next health
			// check (at most 20 s after the last); asking for that check now
			// saves waiting for its one-minute poll.
			_ = cs.Discovery().RESTClient().Get().AbsPath("/readyz/kms-providers").Do(ctx).Error()
			behind = append(behind, api.Name())
		}
	}
	if len(behind) > 0 {
		return fmt.Sprintf("waiting for %s to seal under key %s", strings.Join(behind, " and "), set.Primary), nil
	}
	cs, err := adminClient(p, p.Members(controlplane.KindAPIServer)[0])
	if err != nil {
		return "", err
	}
	stale, err := staleSecrets(ctx, etcd, set.Primary)
	if err != nil {
		return "", err
	}
	if len(stale) > 0 {
		return fmt.Sprintf("rewriting %d Secrets sealed under older keys", len(stale)), rewrite(ctx, cs, stale)
	}
	// The canary has served; a Secret of the tenant's cluster left behind
	// would only puzzle the tenant.
	if err := cs.CoreV1().Secrets(metav1.NamespaceSystem).Delete(ctx, canaryName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("deleting the canary Secret: %w", err)
	}
	return "", r.retire(ctx, c, p, set, rot)
}

// retire drops the retiring keys: nothing is sealed under them any more.
func (r *Concern) retire(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan, set keyset.Set, rot rotation) error {
	kept := keyset.Set{Primary: set.Primary}
	for _, k := range set.Keys {
		if !slices.Contains(rot.Retiring, k.ID) {
			kept.Keys = append(kept.Keys, k)
		}
	}
	if err := r.Keys.Save(ctx, p.Dir(), kept); err != nil {
		return err
	}
	now := time.Now().UTC()
	rot.Retiring, rot.FinishedAt = nil, &now
	if err := saveRotation(p.Dir(), rot); err != nil {
		return err
	}
	tenant.Logger(r.Logger, c).Info("retired the cluster's old keys for Secrets", "key", set.Primary)
	return nil
}

const secretsPrefix = "/registry/secrets/"

// staleSecrets lists the Secrets etcd holds sealed under another key than
// primary, or not sealed at all, as namespace/name.
func staleSecrets(ctx context.Context, etcd Etcd, primary string) ([]string, error) {
	var out []string
	err := etcd.Values(ctx, secretsPrefix, func(key string, value []byte) {
		if id, _ := SealedKeyID(value); id != primary {
			out = append(out, key[len(secretsPrefix):])
		}
	})
	return out, err
}

// rewrite updates each Secret unchanged. A Secret deleted or changed meanwhile
// needs nothing more: it is gone, or was just sealed under the primary.
func rewrite(ctx context.Context, cs kubernetes.Interface, names []string) error {
	for _, n := range names {
		ns, name, _ := cutPath(n)
		s, err := cs.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading Secret %s: %w", n, err)
		}
		if _, err := cs.CoreV1().Secrets(ns).Update(ctx, s, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return fmt.Errorf("rewriting Secret %s: %w", n, err)
		}
	}
	return nil
}

func cutPath(n string) (ns, name string, ok bool) {
	for i := range len(n) {
		if n[i] == '/' {
			return n[:i], n[i+1:], true
		}
	}
	return "", n, false
}

// canaryName is the Secret the cell writes through each API server to see
// which key it seals under.
const canaryName = "cellplane-kms-canary"

// canary writes the canary through api and returns the key etcd shows it
// sealed under.
func canary(ctx context.Context, cs kubernetes.Interface, etcd Etcd, api controlplane.Member) (string, error) {
	data := map[string][]byte{"writtenBy": []byte(api.Name() + " at " + time.Now().UTC().Format(time.RFC3339Nano))}
	secrets := cs.CoreV1().Secrets(metav1.NamespaceSystem)
	s, err := secrets.Get(ctx, canaryName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: canaryName}, Data: data}, metav1.CreateOptions{})
	case err == nil:
		s.Data = data
		_, err = secrets.Update(ctx, s, metav1.UpdateOptions{})
	}
	if err != nil {
		return "", fmt.Errorf("writing the canary Secret through %s: %w", api.Name(), err)
	}
	var id string
	err = etcd.Values(ctx, secretsPrefix+metav1.NamespaceSystem+"/"+canaryName, func(_ string, value []byte) { id, _ = SealedKeyID(value) })
	return id, err
}

// adminClient talks to API server m directly, as the cluster's admin.
func adminClient(p *controlplane.Plan, m controlplane.Member) (kubernetes.Interface, error) {
	f := p.Files()
	cfg := &rest.Config{
		Host:            "https://" + m.Address(),
		TLSClientConfig: rest.TLSClientConfig{CAFile: f.CABundle, CertFile: f.Admin.Cert, KeyFile: f.Admin.Key},
		Timeout:         10 * time.Second,
	}
	return kubernetes.NewForConfig(cfg)
}
