package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/test/framework"
)

// kmsPrefix starts every Secret the API servers seal through the cluster's
// KMS v2 plugins.
const kmsPrefix = "k8s:enc:kms:v2:" + controlplane.KMSProviderName + ":"

// secretMarker is a Secret's value; etcd must never show it.
const secretMarker = "cellplane-kms-plaintext-marker"

// TestSecurityKMSSecretsEncrypted attacks Secrets at rest: a Secret written
// through kubectl is ciphertext in the cluster's etcd, read directly with the
// cluster's etcd client certificate, yet readable through kubectl; a broken
// KMS plugin is reported by the cluster without taking its API server out of
// the endpoint, and its supervisor restarts it; a key rotation reseals every
// Secret under the new key and drops the old one while reads go on; and a
// cluster restored from the backups holds the Secret sealed the same way and
// reads it.
func TestSecurityKMSSecretsEncrypted(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	createActive(ctx, t, in, "kms-src")
	kc := kubeconfig(ctx, t, in, "kms-src")
	if _, err := kubectl(ctx, kc, "-n", "default", "create", "secret", "generic", "s1", "--from-literal=token="+secretMarker); err != nil {
		t.Fatal(err)
	}
	sealed := checkSealedInEtcd(ctx, t, in, "kms-src", "s1")
	checkSecretReadable(ctx, t, kc, "s1")
	// A ConfigMap is not a Secret: it stays in the clear, as configured.
	if _, err := kubectl(ctx, kc, "-n", "default", "create", "configmap", "c1", "--from-literal=v="+secretMarker); err != nil {
		t.Fatal(err)
	}
	if v := etcdValue(ctx, t, in, "kms-src", "/registry/configmaps/default/c1"); !bytes.Contains(v, []byte(secretMarker)) {
		t.Errorf("the ConfigMap is not stored as written: %q", v)
	}

	t.Run("plugin down is reported, not taken out of the endpoint", func(t *testing.T) {
		checkPluginDownReported(ctx, t, in, "kms-src", kc)
	})

	t.Run("key rotation", func(t *testing.T) {
		checkKeyRotation(ctx, t, in, "kms-src", kc, keyID(sealed))
	})

	t.Run("restored from backup", func(t *testing.T) {
		sealed := checkSealedInEtcd(ctx, t, in, "kms-src", "s1")
		waitBackupStatus(ctx, t, in, "kms-src", "the first full", func(b *eks.Backup) bool { return b.LastFullTime != nil })
		checkBackupCreate(ctx, t, in, "kms-src")
		start := time.Now()
		if _, errOut, err := in.CLI(ctx, "cluster", "create", "kms-dst", "--from-backup", "kms-src", "--wait"); err != nil {
			t.Fatalf("cluster create kms-dst --from-backup kms-src: %v\n%s\ncell log:\n%s", err, errOut, cellLog(t, in))
		}
		t.Logf("restored cluster ACTIVE after %s", time.Since(start).Round(100*time.Millisecond))
		restored := checkSealedInEtcd(ctx, t, in, "kms-dst", "s1")
		if keyID(restored) != keyID(sealed) {
			t.Errorf("the restored Secret is sealed under %q, the source's under %q", keyID(restored), keyID(sealed))
		}
		dkc := kubeconfig(ctx, t, in, "kms-dst")
		checkSecretReadable(ctx, t, dkc, "s1")
		// New Secrets in the restored cluster are sealed under its own key.
		if _, err := kubectl(ctx, dkc, "-n", "default", "create", "secret", "generic", "s2", "--from-literal=token="+secretMarker); err != nil {
			t.Fatal(err)
		}
		if fresh := checkSealedInEtcd(ctx, t, in, "kms-dst", "s2"); keyID(fresh) == keyID(sealed) {
			t.Errorf("the restored cluster seals new Secrets under the source's key %q", keyID(sealed))
		}
	})
}

// etcdValue reads key from the cluster's etcd with the cluster's own etcd
// client certificate, as an attacker holding it (or a copy of etcd's data)
// would.
func etcdValue(ctx context.Context, t *testing.T, in *framework.Instance, cluster, key string) []byte {
	t.Helper()
	resp, err := etcdClient(t, in, cluster).Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 {
		t.Fatalf("etcd of %s holds %d values at %s", cluster, len(resp.Kvs), key)
	}
	return resp.Kvs[0].Value
}

// checkSealedInEtcd returns the stored Secret after checking it is sealed by
// the KMS v2 provider and shows no plaintext.
func checkSealedInEtcd(ctx context.Context, t *testing.T, in *framework.Instance, cluster, name string) []byte {
	t.Helper()
	v := etcdValue(ctx, t, in, cluster, "/registry/secrets/default/"+name)
	if !bytes.HasPrefix(v, []byte(kmsPrefix)) {
		t.Errorf("Secret %s in %s's etcd starts %q, want %q", name, cluster, v[:min(len(v), 40)], kmsPrefix)
	}
	if bytes.Contains(v, []byte(secretMarker)) || bytes.Contains(v, []byte(base64.StdEncoding.EncodeToString([]byte(secretMarker)))) {
		t.Errorf("Secret %s in %s's etcd shows its value in the clear", name, cluster)
	}
	return v
}

// keyID is the ID of the key a KMS v2 sealed value names: kube-apiserver
// stores an EncryptedObject after the prefix, the key ID in its field 2.
func keyID(sealed []byte) string {
	b := bytes.TrimPrefix(sealed, []byte(kmsPrefix))
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		if num == 2 && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b)
			return string(v)
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return ""
		}
		b = b[n:]
	}
	return ""
}

func checkSecretReadable(ctx context.Context, t *testing.T, kc, name string) {
	t.Helper()
	out, err := kubectl(ctx, kc, "-n", "default", "get", "secret", name, "-o", "jsonpath={.data.token}")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out)); err != nil || string(v) != secretMarker {
		t.Errorf("kubectl reads Secret %s as %q (%v), want %q", name, out, err, secretMarker)
	}
}

// checkPluginDownReported kills kms-plugin-a with a regular file in place of
// its socket, so that its restarts fail until the file goes: the cluster
// reports the plugin, both API servers stay in the endpoint, and once the
// file goes the supervisor's next restart brings the plugin back.
func checkPluginDownReported(ctx context.Context, t *testing.T, in *framework.Instance, name, kc string) {
	pids := clusterPIDs(ctx, t, in, name)
	pid := pids["kms-plugin-a"]
	sock := filepath.Join(in.DataDir, "cells", "cell-1", "clusters", v1alpha1.Namespace(v1alpha1.DefaultAccount), v1alpha1.ObjectName(name), "kms", "kms-plugin-a.sock")
	if err := os.Remove(sock); err != nil {
		t.Fatalf("the plugin's socket: %v", err)
	}
	if err := os.WriteFile(sock, []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var cl *eks.Cluster
	err := framework.Eventually(ctx, time.Minute, 250*time.Millisecond, func() error {
		cl = describe(ctx, t, in, name)
		c := condition(cl, controlplane.ConditionKMSPluginsReady)
		if c == nil || c.Status != "False" || !strings.Contains(c.Message, "kms-plugin-a") {
			return fmt.Errorf("%s = %+v", controlplane.ConditionKMSPluginsReady, c)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the dead plugin is not reported: %v", err)
	}
	t.Logf("reported: %+v", *condition(cl, controlplane.ConditionKMSPluginsReady))
	if !conditionTrue(cl, v1alpha1.ConditionAPIServersReady) {
		t.Errorf("a dead KMS plugin made the API servers unready: %+v", condition(cl, v1alpha1.ConditionAPIServersReady))
	}
	backends, err := framework.EndpointBackends(ctx, cl.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"kube-apiserver-a", "kube-apiserver-b"} {
		if st, ok := backends[b]; !ok || !st.Healthy {
			t.Errorf("endpoint backend %s is %+v with its KMS plugin down; want it in the endpoint", b, st)
		}
	}
	if _, err := kubectl(ctx, kc, "get", "namespaces"); err != nil {
		t.Errorf("the endpoint stops serving while one KMS plugin is down: %v", err)
	}

	if err := os.Remove(sock); err != nil {
		t.Fatal(err)
	}
	err = framework.Eventually(ctx, 2*time.Minute, 250*time.Millisecond, func() error {
		cl = describe(ctx, t, in, name)
		if !conditionTrue(cl, controlplane.ConditionKMSPluginsReady) {
			return fmt.Errorf("%s = %+v", controlplane.ConditionKMSPluginsReady, condition(cl, controlplane.ConditionKMSPluginsReady))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the plugin did not come back: %v", err)
	}
	after := componentPIDs(t, cl)["kms-plugin-a"]
	if after == pid || !alive(after) {
		t.Errorf("kms-plugin-a runs as pid %d (alive %v), killed pid %d", after, alive(after), pid)
	}
	for _, c := range cl.Cellplane.Components {
		if c.Name == "kms-plugin-a" && c.Restarts == 0 {
			t.Errorf("kms-plugin-a reports no restart: %+v", c)
		}
	}
	// Both API servers read Secrets again (each through its own plugin).
	for range 4 {
		checkSecretReadable(ctx, t, kc, "s1")
	}
}

func condition(cl *eks.Cluster, typ string) *eks.Condition {
	for i, c := range cl.Cellplane.Conditions {
		if c.Type == typ {
			return &cl.Cellplane.Conditions[i]
		}
	}
	return nil
}

// checkKeyRotation rotates the cluster's key while a reader keeps reading the
// Secret through the endpoint: no read fails, etcd then shows the Secret
// under a new key, and the cluster holds that key alone.
func checkKeyRotation(ctx context.Context, t *testing.T, in *framework.Instance, name, kc, oldKey string) {
	t.Helper()
	readCtx, stopReads := context.WithCancel(ctx)
	type result struct {
		reads int
		errs  []error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for readCtx.Err() == nil {
			out, err := kubectl(readCtx, kc, "-n", "default", "get", "secret", "s1", "-o", "jsonpath={.data.token}")
			if readCtx.Err() != nil {
				break
			}
			r.reads++
			if v, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(out)); err != nil || derr != nil || string(v) != secretMarker {
				r.errs = append(r.errs, fmt.Errorf("read %d: %q, %v", r.reads, out, err))
			}
		}
		done <- r
	}()
	start := time.Now()
	out, errOut, err := in.CLI(ctx, "cluster", "rotate-secrets-key", name, "--wait", "--timeout", "3m")
	stopReads()
	r := <-done
	if err != nil {
		t.Fatalf("cluster rotate-secrets-key: %v\n%s%s\ncell log:\n%s", err, out, errOut, cellLog(t, in))
	}
	t.Logf("rotation took %s, %d reads meanwhile:\n%s%s", time.Since(start).Round(100*time.Millisecond), r.reads, errOut, out)
	if len(r.errs) > 0 || r.reads == 0 {
		t.Errorf("%d of %d reads failed during the rotation: %v", len(r.errs), r.reads, r.errs)
	}
	newKey := keyID(checkSealedInEtcd(ctx, t, in, name, "s1"))
	if newKey == "" || newKey == oldKey {
		t.Errorf("after the rotation etcd shows the Secret under %q, before under %q", newKey, oldKey)
	}
	c := condition(describe(ctx, t, in, name), v1alpha1.ConditionSecretsEncryption)
	if c == nil || !strings.Contains(c.Message, newKey+" (1 keys held)") {
		t.Errorf("%s = %+v: want the new key %s alone", v1alpha1.ConditionSecretsEncryption, c, newKey)
	}
	checkSecretReadable(ctx, t, kc, "s1")
	if _, err := kubectl(ctx, kc, "-n", "default", "create", "secret", "generic", "after-rotation", "--from-literal=token="+secretMarker); err != nil {
		t.Fatal(err)
	}
	if k := keyID(checkSealedInEtcd(ctx, t, in, name, "after-rotation")); k != newKey {
		t.Errorf("a Secret written after the rotation is sealed under %q, want %q", k, newKey)
	}
}
