package keyservice

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/sigv4"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

const region = "local"

// service is the key service on the real store, with one SDK client per
// account; the signature check is sigv4's, tested there, so requests carry
// their account as the verifier would put it.
type service struct {
	store  *Store
	binder *Binder
}

func newService(t *testing.T) *service {
	t.Helper()
	cl := env.Client(t)
	st := &Store{Client: cl, Region: region}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &service{store: st, binder: &Binder{Client: cl, Keys: st, Logger: log}}
}

// client is an AWS SDK KMS client acting for account.
func (s *service) client(t *testing.T, account string) *kms.Client {
	t.Helper()
	h := &Handler{Keys: s.store, Binder: s.binder, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(sigv4.WithAccount(r.Context(), account)))
	}))
	t.Cleanup(srv.Close)
	return kms.New(kms.Options{
		Region: region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
	})
}

// code is the KMS error code of err, "" for none.
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	account := env.Account()
	c := s.client(t, account)

	created, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("secrets of prod")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	md := created.KeyMetadata
	id := aws.ToString(md.KeyId)
	wantARN := "arn:aws:kms:local:" + account + ":key/" + id
	if aws.ToString(md.Arn) != wantARN || !md.Enabled || md.KeyState != kmstypes.KeyStateEnabled ||
		aws.ToString(md.AWSAccountId) != account || md.CreationDate == nil || md.CreationDate.IsZero() {
		t.Fatalf("CreateKey metadata = %+v; want enabled key %s", md, wantARN)
	}
	for _, ref := range []string{id, wantARN} {
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
		if err != nil || aws.ToString(d.KeyMetadata.Description) != "secrets of prod" {
			t.Fatalf("DescribeKey(%s) = %+v, %v", ref, d, err)
		}
	}
	list, err := c.ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil || len(list.Keys) != 1 || aws.ToString(list.Keys[0].KeyArn) != wantARN {
		t.Fatalf("ListKeys = %+v, %v; want only %s", list, err, wantARN)
	}

	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
	if d, _ := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}); d.KeyMetadata.Enabled || d.KeyMetadata.KeyState != kmstypes.KeyStateDisabled {
		t.Fatalf("after DisableKey the key is %s", d.KeyMetadata.KeyState)
	}
	if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); code(err) != "DisabledException" {
		t.Fatalf("RotateKeyOnDemand of a disabled key: %v; want DisabledException", err)
	}
	if _, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatalf("EnableKey: %v", err)
	}
	if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(wantARN)}); err != nil {
		t.Fatalf("RotateKeyOnDemand: %v", err)
	}
	rots, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id)})
	if err != nil || len(rots.Rotations) != 1 || rots.Rotations[0].RotationType != kmstypes.RotationTypeOnDemand {
		t.Fatalf("ListKeyRotations = %+v, %v; want one on-demand rotation", rots, err)
	}
	k, err := s.store.Get(ctx, account, id)
	if err != nil || k.Spec.Generation != 2 {
		t.Fatalf("stored key = %+v, %v; want generation 2", k, err)
	}
}

func TestAccountsAreIsolated(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	owner, other := env.Account(), env.Account()
	created, err := s.client(t, owner).CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	id, arn := aws.ToString(created.KeyMetadata.KeyId), aws.ToString(created.KeyMetadata.Arn)
	c := s.client(t, other)
	for _, ref := range []string{id, arn} {
		if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)}); code(err) != "NotFoundException" {
			t.Errorf("another account's DescribeKey(%s): %v; want NotFoundException", ref, err)
		}
		if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(ref)}); code(err) != "NotFoundException" {
			t.Errorf("another account's DisableKey(%s): %v; want NotFoundException", ref, err)
		}
	}
	if list, err := c.ListKeys(ctx, &kms.ListKeysInput{}); err != nil || len(list.Keys) != 0 {
		t.Errorf("another account's ListKeys = %+v, %v; want none", list, err)
	}
	if k, err := s.store.Get(ctx, owner, id); err != nil || k.Spec.State != v1alpha1.KeyStateEnabled {
		t.Fatalf("the owner's key = %+v, %v; want it enabled, untouched", k, err)
	}
	if _, err := s.store.Resolve(ctx, other, arn); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Resolve of another account's key: %v; want ErrNotFound", err)
	}
}

func TestBadInputsChangeNothing(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	account := env.Account()
	c := s.client(t, account)
	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"describe without KeyId", func() error {
			_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("")})
			return err
		}, "ValidationException"},
		{"describe an alias", func() error {
			_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/prod")})
			return err
		}, "NotFoundException"},
		{"describe garbage", func() error {
			_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("not-a-key")})
			return err
		}, "NotFoundException"},
		{"describe another region's ARN", func() error {
			_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("arn:aws:kms:us-east-1:" + account + ":key/" + newUUID())})
			return err
		}, "NotFoundException"},
		{"enable an unknown key", func() error {
			_, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(newUUID())})
			return err
		}, "NotFoundException"},
		{"create an asymmetric key", func() error {
			_, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecRsa2048})
			return err
		}, "UnsupportedOperationException"},
		{"create a signing key", func() error {
			_, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeyUsage: kmstypes.KeyUsageTypeSignVerify})
			return err
		}, "UnsupportedOperationException"},
		{"create with a long description", func() error {
			_, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(strings.Repeat("x", MaxDescription+1))})
			return err
		}, "ValidationException"},
		{"list with limit 0", func() error {
			_, err := c.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(0)})
			return err
		}, "ValidationException"},
		{"list after a foreign marker", func() error {
			_, err := c.ListKeys(ctx, &kms.ListKeysInput{Marker: aws.String("nope")})
			return err
		}, "ValidationException"},
	}
	for _, tc := range cases {
		if err := tc.call(); code(err) != tc.want {
			t.Errorf("%s: %v; want %s", tc.name, err, tc.want)
		}
	}
	if keys, err := s.store.List(ctx, account); err != nil || len(keys) != 0 {
		t.Fatalf("after bad requests the account holds %d keys (%v); want none", len(keys), err)
	}
}

func TestUnknownOperation(t *testing.T) {
	s := newService(t)
	h := &Handler{Keys: s.store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DefaultAccount: env.Account()}
	for _, tc := range []struct{ method, target, want string }{
		{http.MethodPost, "TrentService.ScheduleKeyDeletion", "UnknownOperationException"},
		{http.MethodGet, "TrentService.ListKeys", "ValidationException"},
	} {
		r := httptest.NewRequest(tc.method, "/", strings.NewReader("{}"))
		r.Header.Set("X-Amz-Target", tc.target)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get("X-Amzn-ErrorType"); got != tc.want || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s %s: %d %s %s; want %s", tc.method, tc.target, w.Code, got, w.Body, tc.want)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{not json"))
	r.Header.Set("X-Amz-Target", "TrentService.CreateKey")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if got := w.Header().Get("X-Amzn-ErrorType"); got != "SerializationException" {
		t.Errorf("a body that is not JSON: %d %s; want SerializationException", w.Code, got)
	}
}

// TestBinderCopiesKeyIntoClusters: disabling and rotating reach the bound
// cluster's spec at once, and a resync repairs a copy that was lost.
func TestBinderCopiesKeyIntoClusters(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	account := env.Account()
	c := s.client(t, account)
	created, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	id, arn := aws.ToString(created.KeyMetadata.KeyId), aws.ToString(created.KeyMetadata.Arn)
	spec, err := s.store.Resolve(ctx, account, arn)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	bound := &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: v1alpha1.Namespace(account), Name: "bound"},
		Spec:       v1alpha1.ClusterSpec{Name: "bound", Version: "1.35", Encryption: &spec},
	}
	env.Create(t, bound)
	clusterKey := func() v1alpha1.EncryptionSpec {
		t.Helper()
		var got v1alpha1.Cluster
		if err := s.store.Client.Get(ctx, client.ObjectKeyFromObject(bound), &got); err != nil {
			t.Fatalf("reading cluster: %v", err)
		}
		return *got.Spec.Encryption
	}

	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
	if got := clusterKey(); got.KeyState != v1alpha1.KeyStateDisabled {
		t.Fatalf("after DisableKey the cluster holds %+v", got)
	}
	if _, err := s.store.Resolve(ctx, account, arn); !errors.Is(err, ErrDisabled) {
		t.Fatalf("Resolve of a disabled key: %v; want ErrDisabled", err)
	}
	if _, err := s.store.Resolve(ctx, account, id); !errors.Is(err, ErrValidation) {
		t.Fatalf("Resolve of a bare key ID: %v; want ErrValidation (EKS takes ARNs)", err)
	}
	if _, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatalf("EnableKey: %v", err)
	}
	if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); err != nil {
		t.Fatalf("RotateKeyOnDemand: %v", err)
	}
	if got := clusterKey(); got.KeyState != v1alpha1.KeyStateEnabled || got.KeyGeneration != 2 {
		t.Fatalf("after EnableKey and RotateKeyOnDemand the cluster holds %+v", got)
	}

	// A crash after the key was stored and before the copy: the store holds
	// the change, the cluster does not, and the resync makes the copy.
	if _, err := s.store.SetState(ctx, account, id, v1alpha1.KeyStateDisabled); err != nil {
		t.Fatalf("SetState: %v", err)
	}
	if got := clusterKey(); got.KeyState != v1alpha1.KeyStateEnabled {
		t.Fatalf("the store alone changed the cluster: %+v", got)
	}
	if err := s.binder.Resync(ctx); err != nil {
		t.Fatalf("Resync: %v", err)
	}
	if got := clusterKey(); got.KeyState != v1alpha1.KeyStateDisabled || got.KeyGeneration != 2 {
		t.Fatalf("after Resync the cluster holds %+v", got)
	}
}

func TestParseRef(t *testing.T) {
	const account = "123456789012"
	id := "0b6f5e0a-3c2d-4e5f-8a9b-0c1d2e3f4a5b"
	for _, tc := range []struct {
		ref  string
		want error
	}{
		{id, nil},
		{ARN(region, account, id), nil},
		{"", ErrValidation},
		{strings.Repeat("a", 2049), ErrValidation},
		{ARN(region, "210987654321", id), ErrNotFound},
		{ARN("eu-west-1", account, id), ErrNotFound},
		{"arn:aws:kms:local:" + account + ":alias/prod", ErrNotFound},
		{strings.ToUpper(id), ErrNotFound},
		{ARN(region, account, id) + "/x", ErrNotFound},
	} {
		got, err := parseRef(region, account, tc.ref)
		if !errors.Is(err, tc.want) || (tc.want == nil && got != id) {
			t.Errorf("parseRef(%.60q) = %q, %v; want %v", tc.ref, got, err, tc.want)
		}
	}
}
