package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cellplane/cellplane/test/framework"
	"github.com/cellplane/cellplane/test/framework/dex"
)

// TestOIDCIdentityProvider: a user of a real OIDC issuer (dex, built from
// its Go module, serving HTTPS with a test CA) signs in to a cluster with
// the ID token dex issues, once the provider is associated through the
// aws-sdk-go-v2 EKS client, and is refused once it is disassociated; the API
// servers reload their authentication configuration and are never
// restarted (the same PIDs throughout).
func TestOIDCIdentityProvider(t *testing.T) {
	ctx := ctxFor(t)
	dexBins, err := dex.Binaries(ctx)
	if err != nil {
		t.Fatalf("building dex: %v", err)
	}
	start := time.Now()
	issuer := dex.Start(t, dexBins)
	in := framework.Shared(ctx, t, bins)
	sdk := sdkClient(t, in.DataDir)
	cl := createActive(ctx, t, in, "oidc")
	admin := kubeconfig(ctx, t, in, "oidc")
	asUser := tokenKubectl(t, cl.Endpoint, cl.CertificateAuthority.Data)
	pids := clusterPIDs(ctx, t, in, "oidc")

	token, err := issuer.IDToken(ctx)
	if err != nil {
		t.Fatalf("getting an ID token from dex: %v\n%s", err, issuer.Log())
	}
	if out, err := asUser(ctx, token, "auth", "whoami"); err == nil || !strings.Contains(out, "Unauthorized") {
		t.Fatalf("before any provider the token = %v %s, want Unauthorized", err, out)
	}
	// What the token may do is the tenant's RBAC, bound to the prefixed group.
	for _, args := range [][]string{
		{"create", "clusterrole", "oidc-ns-reader", "--verb=get,list", "--resource=namespaces"},
		{"create", "clusterrolebinding", "oidc-ns-reader", "--clusterrole=oidc-ns-reader", "--group=oidc:" + dex.Group},
	} {
		if out, err := kubectl(ctx, admin, args...); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}

	ref := &types.IdentityProviderConfig{Type: aws.String("oidc"), Name: aws.String("corp")}
	assoc, err := sdk.AssociateIdentityProviderConfig(ctx, &awseks.AssociateIdentityProviderConfigInput{
		ClusterName: aws.String("oidc"),
		Oidc: &types.OidcIdentityProviderConfigRequest{
			IdentityProviderConfigName: aws.String("corp"), IssuerUrl: aws.String(issuer.Issuer), ClientId: aws.String(dex.ClientID),
			UsernameClaim: aws.String("email"), UsernamePrefix: aws.String("oidc:"),
			GroupsClaim: aws.String("groups"), GroupsPrefix: aws.String("oidc:"),
			RequiredClaims: map[string]string{"name": dex.UserName},
		},
		Tags: map[string]string{"team": "a"},
	}, withIssuerCA(issuer.CAPEM))
	if err != nil {
		t.Fatalf("AssociateIdentityProviderConfig: %v", err)
	}
	if assoc.Update.Type != types.UpdateTypeAssociateIdentityProviderConfig || assoc.Update.Status != types.UpdateStatusInProgress {
		t.Fatalf("associate answered %+v", assoc.Update)
	}
	associated := time.Now()
	waitIDPStatus(ctx, t, sdk, ref, types.ConfigStatusActive)
	t.Logf("provider ACTIVE %s after AssociateIdentityProviderConfig", time.Since(associated).Round(100*time.Millisecond))
	desc, err := sdk.DescribeIdentityProviderConfig(ctx, &awseks.DescribeIdentityProviderConfigInput{ClusterName: aws.String("oidc"), IdentityProviderConfig: ref})
	if err != nil {
		t.Fatal(err)
	}
	if o := desc.IdentityProviderConfig.Oidc; aws.ToString(o.IssuerUrl) != issuer.Issuer || aws.ToString(o.ClusterName) != "oidc" ||
		!strings.Contains(aws.ToString(o.IdentityProviderConfigArn), ":identityproviderconfig/oidc/oidc/corp/") || o.Tags["team"] != "a" {
		t.Fatalf("described %+v", o)
	}
	if u, err := sdk.DescribeUpdate(ctx, &awseks.DescribeUpdateInput{Name: aws.String("oidc"), UpdateId: assoc.Update.Id}); err != nil || u.Update.Status != types.UpdateStatusSuccessful {
		t.Fatalf("associate update: %v %+v", err, u)
	}

	out, err := asUser(ctx, token, "auth", "whoami", "-o", "json")
	if err != nil {
		t.Fatalf("whoami with the ID token: %v", err)
	}
	var who struct {
		Status struct {
			UserInfo struct {
				Username string
				Groups   []string
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &who); err != nil {
		t.Fatalf("whoami output: %v\n%s", err, out)
	}
	if u := who.Status.UserInfo; u.Username != "oidc:"+dex.UserEmail || !slices.Contains(u.Groups, "oidc:"+dex.Group) {
		t.Fatalf("signed in as %+v, want oidc:%s in oidc:%s", u, dex.UserEmail, dex.Group)
	}
	if out, err := asUser(ctx, token, "get", "ns", "kube-system"); err != nil {
		t.Fatalf("get ns with the ID token: %v %s", err, out)
	}
	if out, err := asUser(ctx, token, "get", "secrets", "-n", "kube-system"); err == nil || !strings.Contains(out, "Forbidden") {
		t.Fatalf("the token reads Secrets its RBAC does not grant: %v %s", err, out)
	}
	samePIDs(ctx, t, in, pids, "after the association")

	t.Run("errors", func(t *testing.T) { idpErrors(ctx, t, sdk, issuer) })

	dis, err := sdk.DisassociateIdentityProviderConfig(ctx, &awseks.DisassociateIdentityProviderConfigInput{ClusterName: aws.String("oidc"), IdentityProviderConfig: ref})
	if err != nil || dis.Update.Type != types.UpdateTypeDisassociateIdentityProviderConfig {
		t.Fatalf("DisassociateIdentityProviderConfig: %v %+v", err, dis)
	}
	disassociated := time.Now()
	waitIDPGone(ctx, t, sdk, ref)
	t.Logf("provider gone %s after DisassociateIdentityProviderConfig", time.Since(disassociated).Round(100*time.Millisecond))
	if out, err := asUser(ctx, token, "get", "ns", "kube-system"); err == nil || !strings.Contains(out, "Unauthorized") {
		t.Fatalf("after disassociation the token = %v %s, want Unauthorized", err, out)
	}
	list, err := sdk.ListIdentityProviderConfigs(ctx, &awseks.ListIdentityProviderConfigsInput{ClusterName: aws.String("oidc")})
	if err != nil || len(list.IdentityProviderConfigs) != 0 {
		t.Fatalf("ListIdentityProviderConfigs after disassociation: %v %+v", err, list)
	}
	samePIDs(ctx, t, in, pids, "after the disassociation")
	t.Logf("issuer up to provider gone: %s", time.Since(start).Round(time.Second))

	t.Run("cli", func(t *testing.T) { idpCLI(ctx, t, in, issuer, asUser, token) })
}

// idpCLI: cellplane's CLI associates the same issuer again, lists,
// describes and disassociates it, each --wait returning once every API
// server follows.
func idpCLI(ctx context.Context, t *testing.T, in *framework.Instance, issuer *dex.Server, asUser func(context.Context, string, ...string) (string, error), token string) {
	caFile := filepath.Join(t.TempDir(), "issuer-ca.pem")
	if err := os.WriteFile(caFile, issuer.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) string {
		t.Helper()
		out, errOut, err := in.CLI(ctx, append([]string{"cluster", "identity-provider"}, args...)...)
		if err != nil {
			t.Fatalf("cluster identity-provider %v: %v\n%s", args, err, errOut)
		}
		return out
	}
	cli("associate", "oidc", "--name", "again", "--issuer-url", issuer.Issuer, "--client-id", dex.ClientID,
		"--username-claim", "email", "--username-prefix", "-", "--issuer-ca-file", caFile, "--wait")
	if out := cli("list", "oidc"); out != "oidc\tagain\n" {
		t.Fatalf("list: %q", out)
	}
	if out := cli("describe", "oidc", "again"); !strings.Contains(out, "status:\tACTIVE") {
		t.Fatalf("describe: %s", out)
	}
	if out, err := asUser(ctx, token, "auth", "whoami"); err != nil || !strings.Contains(out, dex.UserEmail) || strings.Contains(out, "oidc:") {
		t.Fatalf("whoami without a prefix: %v %s", err, out)
	}
	cli("disassociate", "oidc", "again", "--wait")
	if out, err := asUser(ctx, token, "auth", "whoami"); err == nil || !strings.Contains(out, "Unauthorized") {
		t.Fatalf("after the CLI's disassociation the token = %v %s, want Unauthorized", err, out)
	}
}

// idpErrors: every bad request gets EKS's error through the SDK.
func idpErrors(ctx context.Context, t *testing.T, sdk *awseks.Client, issuer *dex.Server) {
	req := func(mod func(*types.OidcIdentityProviderConfigRequest)) *awseks.AssociateIdentityProviderConfigInput {
		o := &types.OidcIdentityProviderConfigRequest{IdentityProviderConfigName: aws.String("corp"), IssuerUrl: aws.String(issuer.Issuer), ClientId: aws.String(dex.ClientID)}
		mod(o)
		return &awseks.AssociateIdentityProviderConfigInput{ClusterName: aws.String("oidc"), Oidc: o}
	}
	var badParam *types.InvalidParameterException
	var badRequest *types.InvalidRequestException
	var inUse *types.ResourceInUseException
	var notFound *types.ResourceNotFoundException
	for _, tc := range []struct {
		name   string
		call   func() error
		target any
		msg    string
	}{
		{"http issuer", func() error {
			_, err := sdk.AssociateIdentityProviderConfig(ctx, req(func(o *types.OidcIdentityProviderConfigRequest) {
				o.IssuerUrl = aws.String(strings.Replace(issuer.Issuer, "https:", "http:", 1))
			}))
			return err
		}, &badParam, "https://"},
		{"missing clientId", func() error {
			_, err := sdk.AssociateIdentityProviderConfig(ctx, req(func(o *types.OidcIdentityProviderConfigRequest) { o.ClientId = aws.String("") }))
			return err
		}, &badParam, "clientId is required"},
		{"same name again", func() error {
			_, err := sdk.AssociateIdentityProviderConfig(ctx, req(func(*types.OidcIdentityProviderConfigRequest) {}))
			return err
		}, &inUse, "already associated"},
		{"second config", func() error {
			_, err := sdk.AssociateIdentityProviderConfig(ctx, req(func(o *types.OidcIdentityProviderConfigRequest) { o.IdentityProviderConfigName = aws.String("second") }))
			return err
		}, &badRequest, "can have one"},
		{"unknown name", func() error {
			_, err := sdk.DescribeIdentityProviderConfig(ctx, &awseks.DescribeIdentityProviderConfigInput{ClusterName: aws.String("oidc"),
				IdentityProviderConfig: &types.IdentityProviderConfig{Type: aws.String("oidc"), Name: aws.String("nope")}})
			return err
		}, &notFound, "nope"},
		{"unknown name disassociated", func() error {
			_, err := sdk.DisassociateIdentityProviderConfig(ctx, &awseks.DisassociateIdentityProviderConfigInput{ClusterName: aws.String("oidc"),
				IdentityProviderConfig: &types.IdentityProviderConfig{Type: aws.String("oidc"), Name: aws.String("nope")}})
			return err
		}, &notFound, "nope"},
		{"unknown cluster", func() error {
			_, err := sdk.ListIdentityProviderConfigs(ctx, &awseks.ListIdentityProviderConfigsInput{ClusterName: aws.String("no-such-cluster")})
			return err
		}, &notFound, "no-such-cluster"},
		{"unknown cluster associated", func() error {
			in := req(func(*types.OidcIdentityProviderConfigRequest) {})
			in.ClusterName = aws.String("no-such-cluster")
			_, err := sdk.AssociateIdentityProviderConfig(ctx, in)
			return err
		}, &notFound, "no-such-cluster"},
	} {
		err := tc.call()
		if err == nil || !errors.As(err, tc.target) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %T about %q", tc.name, err, tc.target, tc.msg)
		}
	}
	list, err := sdk.ListIdentityProviderConfigs(ctx, &awseks.ListIdentityProviderConfigsInput{ClusterName: aws.String("oidc")})
	if err != nil || len(list.IdentityProviderConfigs) != 1 || aws.ToString(list.IdentityProviderConfigs[0].Name) != "corp" {
		t.Fatalf("the refused requests changed the providers: %v %+v", err, list)
	}
}

// withIssuerCA adds cellplane's extension to the request body: the CA that
// signed the issuer's certificate, which the SDK has no field for.
func withIssuerCA(caPEM []byte) func(*awseks.Options) {
	return func(o *awseks.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Serialize.Add(middleware.SerializeMiddlewareFunc("cellplaneIssuerCA",
				func(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
					req, ok := in.Request.(*smithyhttp.Request)
					if !ok {
						return next.HandleSerialize(ctx, in)
					}
					body, err := io.ReadAll(req.GetStream())
					if err != nil {
						return middleware.SerializeOutput{}, middleware.Metadata{}, err
					}
					var m map[string]any
					if err := json.Unmarshal(body, &m); err != nil {
						return middleware.SerializeOutput{}, middleware.Metadata{}, err
					}
					m["cellplane"] = map[string]string{"issuerCertificateAuthority": string(caPEM)}
					if body, err = json.Marshal(m); err != nil {
						return middleware.SerializeOutput{}, middleware.Metadata{}, err
					}
					if req, err = req.SetStream(bytes.NewReader(body)); err != nil {
						return middleware.SerializeOutput{}, middleware.Metadata{}, err
					}
					in.Request = req
					return next.HandleSerialize(ctx, in)
				}), middleware.After)
		})
	}
}

// tokenKubectl returns a kubectl that talks to the endpoint with a bearer
// token and no client certificate, as a user of the issuer would.
func tokenKubectl(t *testing.T, endpoint, caData string) func(ctx context.Context, token string, args ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	ca, err := base64.StdEncoding.DecodeString(caData)
	if err != nil {
		t.Fatal(err)
	}
	caFile, kc := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "empty.kubeconfig")
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context, token string, args ...string) (string, error) {
		return kubectl(ctx, kc, append([]string{"--server=" + endpoint, "--certificate-authority=" + caFile, "--token=" + token}, args...)...)
	}
}

func waitIDPStatus(ctx context.Context, t *testing.T, sdk *awseks.Client, ref *types.IdentityProviderConfig, want types.ConfigStatus) {
	t.Helper()
	err := framework.Eventually(ctx, 2*time.Minute, 500*time.Millisecond, func() error {
		out, err := sdk.DescribeIdentityProviderConfig(ctx, &awseks.DescribeIdentityProviderConfigInput{ClusterName: aws.String("oidc"), IdentityProviderConfig: ref})
		if err != nil {
			return err
		}
		if got := out.IdentityProviderConfig.Oidc.Status; got != want {
			return fmt.Errorf("provider is %s", got)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("waiting for the provider to be %s: %v", want, err)
	}
}

func waitIDPGone(ctx context.Context, t *testing.T, sdk *awseks.Client, ref *types.IdentityProviderConfig) {
	t.Helper()
	err := framework.Eventually(ctx, 2*time.Minute, 500*time.Millisecond, func() error {
		out, err := sdk.DescribeIdentityProviderConfig(ctx, &awseks.DescribeIdentityProviderConfigInput{ClusterName: aws.String("oidc"), IdentityProviderConfig: ref})
		var notFound *types.ResourceNotFoundException
		if errors.As(err, &notFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("provider is %s", out.IdentityProviderConfig.Oidc.Status)
	})
	if err != nil {
		t.Fatalf("waiting for the provider to go: %v", err)
	}
}

// samePIDs fails unless every component runs as the same process as before.
func samePIDs(ctx context.Context, t *testing.T, in *framework.Instance, before map[string]int, when string) {
	t.Helper()
	if now := clusterPIDs(ctx, t, in, "oidc"); !maps.Equal(now, before) {
		t.Fatalf("components restarted %s: PIDs %v, before %v", when, now, before)
	}
}
