package eksinput

import (
	"errors"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// wantPublic fails unless err is a public error of kind whose message holds msg.
func wantPublic(t *testing.T, err, kind error, msg string) {
	t.Helper()
	var pub *errdefs.PublicError
	if !errors.As(err, &pub) || !errors.Is(err, kind) || !strings.Contains(pub.Msg, msg) {
		t.Errorf("got %v; want a public %v error saying %q", err, kind, msg)
	}
}

func TestValidateCreate(t *testing.T) {
	minor, err := ValidateCreate(&eks.CreateClusterInput{Name: "demo"})
	if err != nil || minor != components.Default().Minor {
		t.Fatalf("ValidateCreate(demo) = %q, %v", minor, err)
	}
	for _, c := range []struct {
		name string
		in   eks.CreateClusterInput
		kind error
		msg  string
	}{
		{"no name", eks.CreateClusterInput{}, errdefs.ErrInvalidParameter, "The cluster name is missing."},
		{"bad name", eks.CreateClusterInput{Name: "-x"}, errdefs.ErrInvalidParameter, `The cluster name "-x" is not valid.`},
		{"bad version", eks.CreateClusterInput{Name: "x", Version: "1.2"}, errdefs.ErrInvalidParameter, `Kubernetes version "1.2" is not supported.`},
		{"reserved tag", eks.CreateClusterInput{Name: "x", Tags: map[string]string{"aws:x": "y"}}, errdefs.ErrInvalidParameter, "the aws: prefix is reserved"},
		{"quota", eks.CreateClusterInput{Name: "x", Cellplane: &eks.CreateOptions{EtcdQuotaBytes: 1}}, errdefs.ErrInvalidParameter, "cellplane.etcdQuotaBytes must be from"},
		{"restore itself", eks.CreateClusterInput{Name: "x", Cellplane: &eks.CreateOptions{FromBackup: &eks.FromBackup{Cluster: "x"}}}, errdefs.ErrInvalidParameter, "cannot be the cluster being created"},
		{"bad set", eks.CreateClusterInput{Name: "x", Cellplane: &eks.CreateOptions{FromBackup: &eks.FromBackup{Cluster: "y", Set: "../z"}}}, errdefs.ErrInvalidParameter, "is not a backup set UID"},
		{"two keys", eks.CreateClusterInput{Name: "x", EncryptionConfig: make([]eks.EncryptionConfig, 2)}, errdefs.ErrInvalidParameter, "encryptionConfig takes one entry; got 2."},
		{"bad token", eks.CreateClusterInput{Name: "x", ClientRequestToken: "a b"}, errdefs.ErrInvalidParameter, "clientRequestToken must be at most 64"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ValidateCreate(&c.in)
			wantPublic(t, err, c.kind, c.msg)
		})
	}
}

func TestValidateTags(t *testing.T) {
	if err := ValidateTags(map[string]string{"team": "a b_c.d:e/f=g+h-i@j", "é": ""}); err != nil {
		t.Fatalf("valid tags refused: %v", err)
	}
	many := map[string]string{}
	for i := range maxTags + 1 {
		many[strings.Repeat("k", i+1)] = ""
	}
	wantPublic(t, ValidateTags(many), errdefs.ErrLimitExceeded, "at most 50 tags; this would give it 51")
	wantPublic(t, ValidateTags(map[string]string{"b": "!", "a": "!"}), errdefs.ErrInvalidParameter, `The value of tag "a"`)
	wantPublic(t, ValidateTags(map[string]string{strings.Repeat("k", 129): ""}), errdefs.ErrInvalidParameter, "must be 1-128 characters")
}

func TestEchoOf(t *testing.T) {
	got, err := EchoOf(&eks.CreateClusterInput{RoleArn: "r", Logging: []byte(" { \"a\" : 1 } ")})
	if err != nil || got != `{"roleArn":"r","logging":{"a":1}}` {
		t.Fatalf("EchoOf = %q, %v", got, err)
	}
	if got, err := EchoOf(&eks.CreateClusterInput{Logging: []byte("null")}); err != nil || got != "" {
		t.Errorf("EchoOf(null) = %q, %v", got, err)
	}
	_, err = EchoOf(&eks.CreateClusterInput{ResourcesVpcConfig: []byte("[]")})
	wantPublic(t, err, errdefs.ErrInvalidRequest, "The field resourcesVpcConfig must be a JSON object.")
	_, err = EchoOf(&eks.CreateClusterInput{RoleArn: strings.Repeat("a", MaxEchoBytes)})
	wantPublic(t, err, errdefs.ErrInvalidParameter, "together exceed")
}
