package plugin

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	kmsapi "k8s.io/kms/apis/v2"
	kmsservice "k8s.io/kms/pkg/service"

	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/kms/keyset"
	"github.com/cellplane/cellplane/internal/poll"
)

func TestServiceSealsUnderPrimaryAndOpensWithAnyKey(t *testing.T) {
	ctx := context.Background()
	old := keyset.New()
	cur := keyset.New().Merge(old)
	seed := []byte("0123456789abcdef0123456789abcdef")

	oldSvc, err := NewService(old)
	if err != nil {
		t.Fatal(err)
	}
	sealedOld, err := oldSvc.Encrypt(ctx, "uid-1", seed)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(cur)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := svc.Encrypt(ctx, "uid-2", seed)
	if err != nil {
		t.Fatal(err)
	}
	if sealed.KeyID != cur.Primary || bytes.Contains(sealed.Ciphertext, seed) {
		t.Fatalf("Encrypt = key %s, %x: want the primary %s and no plaintext", sealed.KeyID, sealed.Ciphertext, cur.Primary)
	}
	for _, r := range []*kmsservice.EncryptResponse{sealed, sealedOld} {
		got, err := svc.Decrypt(ctx, "uid-3", &kmsservice.DecryptRequest{Ciphertext: r.Ciphertext, KeyID: r.KeyID})
		if err != nil || !bytes.Equal(got, seed) {
			t.Errorf("Decrypt(sealed under %s) = %q, %v", r.KeyID, got, err)
		}
	}
	// Relabelled with the other key's ID, tampered with, or under a key the
	// plugin does not hold: refused.
	if _, err := svc.Decrypt(ctx, "", &kmsservice.DecryptRequest{Ciphertext: sealed.Ciphertext, KeyID: old.Primary}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Decrypt relabelled = %v, want ErrCorrupt", err)
	}
	bad := bytes.Clone(sealed.Ciphertext)
	bad[len(bad)-1] ^= 1
	if _, err := svc.Decrypt(ctx, "", &kmsservice.DecryptRequest{Ciphertext: bad, KeyID: sealed.KeyID}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Decrypt tampered = %v, want ErrCorrupt", err)
	}
	if _, err := svc.Decrypt(ctx, "", &kmsservice.DecryptRequest{Ciphertext: sealed.Ciphertext[:5], KeyID: sealed.KeyID}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Decrypt truncated = %v, want ErrCorrupt", err)
	}
	if _, err := oldSvc.Decrypt(ctx, "", &kmsservice.DecryptRequest{Ciphertext: sealed.Ciphertext, KeyID: sealed.KeyID}); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Decrypt under a key not held = %v, want ErrUnknownKey", err)
	}
	st, err := svc.Status(ctx)
	if err != nil || st.Healthz != "ok" || st.KeyID != cur.Primary || st.Version != "v2" {
		t.Errorf("Status = %+v, %v", st, err)
	}
}

func TestConfigValidate(t *testing.T) {
	for name, c := range map[string]Config{
		"no socket": {Keys: keyset.New()},
		"no keys":   {Socket: "/tmp/x.sock"},
	} {
		if err := c.Validate(); !errors.Is(err, errdefs.ErrInvalidConfig) {
			t.Errorf("%s: Validate() = %v, want ErrInvalidConfig", name, err)
		}
	}
	if _, err := DecodeKeyset(""); !errors.Is(err, errdefs.ErrInvalidConfig) {
		t.Errorf("DecodeKeyset(\"\") = %v, want ErrInvalidConfig", err)
	}
	if _, err := DecodeKeyset("%%%"); !errors.Is(err, errdefs.ErrInvalidConfig) {
		t.Errorf("DecodeKeyset(garbage) = %v, want ErrInvalidConfig", err)
	}
	s := keyset.New()
	v, err := EncodeKeyset(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeKeyset(v); err != nil || got.Primary != s.Primary {
		t.Errorf("DecodeKeyset(EncodeKeyset(s)) = %+v, %v", got, err)
	}
}

// TestServeOverLongSocketPath serves on a path longer than a socket address
// holds, over a stale socket a killed plugin left, and answers upstream's
// gRPC client the way kube-apiserver calls it.
func TestServeOverLongSocketPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "kms-plugin-a.sock")
	if len(sock) <= maxSocketPath {
		t.Fatalf("test path %s is short enough to bind directly", sock)
	}
	stale, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	// Close without unlinking, as a SIGKILL would leave it.
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = stale.Close()

	keys := keyset.New()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, Config{Socket: sock, Keys: keys, Logger: slog.New(slog.DiscardHandler)}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})

	conn, err := grpc.NewClient("passthrough:///kms", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return Dial(ctx, sock) }))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	c := kmsapi.NewKeyManagementServiceClient(conn)
	var st *kmsapi.StatusResponse
	err = poll.Until(ctx, 5*time.Second, 20*time.Millisecond, func() (err error) {
		st, err = c.Status(ctx, &kmsapi.StatusRequest{})
		return err
	})
	if err != nil {
		t.Fatalf("Status never answered: %v", err)
	}
	if st.Healthz != "ok" || st.KeyId != keys.Primary {
		t.Errorf("Status = %+v", st)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket %v mode %v, want 0600", err, fi)
	}
	enc, err := c.Encrypt(ctx, &kmsapi.EncryptRequest{Plaintext: []byte("seed"), Uid: "1"})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := c.Decrypt(ctx, &kmsapi.DecryptRequest{Ciphertext: enc.Ciphertext, KeyId: enc.KeyId, Uid: "2"})
	if err != nil || string(dec.Plaintext) != "seed" {
		t.Errorf("Decrypt = %q, %v", dec.GetPlaintext(), err)
	}
}

func TestListenRefusesNonSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "not-a-socket")
	if err := os.WriteFile(path, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path); err == nil {
		t.Fatal("Listen replaced a regular file")
	}
	if data, _ := os.ReadFile(path); string(data) != "data" {
		t.Error("the file was changed")
	}
}

// TestDisabledServesNothing: without keys every seal and open fails, and
// Status is unhealthy and names no key, so kube-apiserver's write lifetime
// for its data key is not extended.
func TestDisabledServesNothing(t *testing.T) {
	ctx := context.Background()
	d := Disabled("the customer key k is disabled")
	if _, err := d.Encrypt(ctx, "uid", []byte("dek")); !errors.Is(err, ErrKeyDisabled) {
		t.Errorf("Encrypt = %v; want ErrKeyDisabled", err)
	}
	if _, err := d.Decrypt(ctx, "uid", &kmsservice.DecryptRequest{KeyID: "k", Ciphertext: []byte("x")}); !errors.Is(err, ErrKeyDisabled) {
		t.Errorf("Decrypt = %v; want ErrKeyDisabled", err)
	}
	st, err := d.Status(ctx)
	if err != nil || st.Healthz == "ok" || !strings.Contains(st.Healthz, "disabled") || st.KeyID != "" || st.Version != "v2" {
		t.Errorf("Status = %+v, %v; want unhealthy, v2, no key ID", st, err)
	}
	if err := (Config{Socket: "/tmp/x.sock", Disabled: "off"}).Validate(); err != nil {
		t.Errorf("a disabled config without keys: %v", err)
	}
}
