package controlplane

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/cellplane/cellplane/internal/kms/keyset"
	"github.com/cellplane/cellplane/internal/kms/plugin"
	"github.com/cellplane/cellplane/internal/poll"
)

type encryptionDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Resources  []struct {
		Resources []string `json:"resources"`
		Providers []struct {
			KMS *struct {
				APIVersion string `json:"apiVersion"`
				Name       string `json:"name"`
				Endpoint   string `json:"endpoint"`
				Timeout    string `json:"timeout"`
			} `json:"kms"`
			Identity *struct{} `json:"identity"`
		} `json:"providers"`
	} `json:"resources"`
}

// TestEncryptionConfigs: each API server encrypts Secrets with its own
// zone's plugin, reads Secrets stored before encryption, and its config is
// private.
func TestEncryptionConfigs(t *testing.T) {
	forEachSlot(t, func(t *testing.T, p *Plan) {
		if err := p.WriteConfigs(); err != nil {
			t.Fatal(err)
		}
		for _, api := range p.Members(KindAPIServer) {
			path := p.EncryptionConfigPath(api)
			if got := flags(t, p.Spec(api).Args)["encryption-provider-config"]; got != path {
				t.Errorf("%s --encryption-provider-config = %q, want %q", api.Name(), got, path)
			}
			assertPrivate(t, path)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var doc encryptionDoc
			if err := yaml.UnmarshalStrict(data, &doc); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if doc.Kind != "EncryptionConfiguration" || doc.APIVersion != "apiserver.config.k8s.io/v1" || len(doc.Resources) != 1 {
				t.Fatalf("%s is %+v", path, doc)
			}
			r := doc.Resources[0]
			if len(r.Resources) != 1 || r.Resources[0] != "secrets" || len(r.Providers) != 2 {
				t.Fatalf("%s resources %+v: want secrets, a KMS provider and identity", path, r)
			}
			kms, id := r.Providers[0].KMS, r.Providers[1].Identity
			want := "unix://" + p.KMSSocket(p.member(KindKMSPlugin, api.Zone))
			if kms == nil || id == nil || kms.APIVersion != "v2" || kms.Name != KMSProviderName || kms.Endpoint != want {
				t.Fatalf("%s providers %+v: want KMS v2 %s at %s, then identity", path, r.Providers, KMSProviderName, want)
			}
			if d, err := time.ParseDuration(kms.Timeout); err != nil || d <= 0 || d > 10*time.Second {
				t.Errorf("%s KMS timeout %q", path, kms.Timeout)
			}
		}
		fi, err := os.Stat(p.KMSDir())
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("KMS socket directory: %v, mode %v; want 0700", err, fi)
		}
	})
}

// TestKMSEndpointOfDeepClusterDir: a socket path too long for an address is
// reached through the API server's working directory, the cluster's.
func TestKMSEndpointOfDeepClusterDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("x", 100))
	p := New(testInput(t, dir, 0))
	m := p.member(KindKMSPlugin, "a")
	if got, want := p.kmsEndpoint(m), "unix:///proc/self/cwd/kms/kms-plugin-a.sock"; got != want {
		t.Errorf("kmsEndpoint = %q, want %q", got, want)
	}
	api := p.member(KindAPIServer, "a")
	if p.Spec(api).Dir != dir {
		t.Errorf("the API server runs in %q, not the cluster directory the endpoint relies on", p.Spec(api).Dir)
	}
}

func TestKMSPluginSpec(t *testing.T) {
	keys := keyset.New()
	enc, err := plugin.EncodeKeyset(keys)
	if err != nil {
		t.Fatal(err)
	}
	in := testInput(t, t.TempDir(), 5)
	in.SecretsKeys = enc
	p := New(in)
	for _, m := range p.Members(KindKMSPlugin) {
		s := p.Spec(m)
		if s.Path != in.Cellplane || len(s.Args) != 2 || s.Args[0] != "kms-plugin" || s.Args[1] != "--socket="+p.KMSSocket(m) {
			t.Errorf("%s runs %s %q", m.Name(), s.Path, s.Args)
		}
		var got string
		for _, e := range s.Env {
			if v, ok := strings.CutPrefix(e, plugin.KeysetEnv+"="); ok {
				got = v
			}
		}
		if got != enc || len(s.Env) != 1 {
			t.Errorf("%s environment %d variables, keyset %v: want the keyset alone", m.Name(), len(s.Env), got == enc)
		}
		if strings.Contains(strings.Join(s.Args, " "), enc) {
			t.Errorf("%s has its keys on its command line, which every user can read", m.Name())
		}
	}
	// Without keys, nothing is handed over, not even cellplane's own
	// environment: the plugin refuses to start.
	bare := New(testInput(t, t.TempDir(), 5))
	if env := bare.Spec(bare.Members(KindKMSPlugin)[0]).Env; env == nil || len(env) != 0 {
		t.Errorf("a plan without keys hands over %q, want an empty environment", env)
	}
}

// TestKMSPluginCheck probes a real plugin over its socket, and finds it
// unhealthy once it stops.
func TestKMSPluginCheck(t *testing.T) {
	p := New(testInput(t, t.TempDir(), 0))
	if err := p.WriteConfigs(); err != nil {
		t.Fatal(err)
	}
	m := p.member(KindKMSPlugin, "a")
	pr := &Prober{plan: p}
	ctx := context.Background()
	if err := pr.Check(ctx, m); !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("Check before the plugin runs = %v, want ErrUnhealthy", err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- plugin.Serve(sctx, plugin.Config{Socket: p.KMSSocket(m), Keys: keyset.New(), Logger: slog.New(slog.DiscardHandler)})
	}()
	if err := poll.Until(ctx, 5*time.Second, 20*time.Millisecond, func() error { return pr.Check(ctx, m) }); err != nil {
		t.Fatalf("Check of a serving plugin: %v", err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := pr.Check(ctx, m); !errors.Is(err, ErrUnhealthy) {
		t.Errorf("Check after the plugin stopped = %v, want ErrUnhealthy", err)
	}
}
