package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/cellplane/cellplane/internal/cell/signin"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/ekstoken"
	"github.com/cellplane/cellplane/test/framework"
)

// TestSignIn signs in the EKS way with the unmodified tools and nothing but
// the EKS API: Debian's awscli writes each caller's kubeconfig (`aws eks
// update-kubeconfig`) and kubectl runs its `aws eks get-token`. The cluster's
// creator is cluster admin by its bootstrap entry; a second user is refused
// until CreateAccessEntry and AssociateAccessPolicy (aws-sdk-go-v2) give it
// view in team-a, where it lists pods and creates nothing, and is refused
// again within the webhook cache TTL of DeleteAccessEntry; a role trusting
// that user, assumed with `aws sts assume-role`, signs in as the role under
// its entry's username. Tokens for another cluster, expired, tampered or
// signed by a deactivated key get 401; and the creator and the role's
// session keep signing in with the region store stopped.
func TestSignIn(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	const name = "signin"
	began := time.Now()
	createActive(ctx, t, in, name)
	t.Cleanup(func() { _, _, _ = in.CLI(context.Background(), "cluster", "delete", name, "--wait") })
	t.Logf("cluster %s ACTIVE after %s", name, time.Since(began).Round(100*time.Millisecond))
	began = time.Now()
	phase := func(what string) {
		t.Logf("%6s  %s", time.Since(began).Round(100*time.Millisecond), what)
	}
	cl := describe(ctx, t, in, name)
	acct := strings.Split(cl.Arn, ":")[4]
	sdk := sdkClient(t, in.DataDir)
	s := newSignInHarness(ctx, t, in, name)

	// The creator: no entry made by hand, the bootstrap entry signs it in.
	kc := s.updateKubeconfig(ctx, t, s.env)
	var out string
	err := framework.Eventually(ctx, 30*time.Second, 500*time.Millisecond, func() (err error) {
		out, err = s.kubectl(ctx, kc, s.env, "get", "ns")
		return err
	})
	if err != nil || !strings.Contains(out, "kube-system") {
		t.Fatalf("kubectl get ns as the cluster's creator: %v %s", err, out)
	}
	// cellplane's own kubeconfig signs in the same way.
	own := filepath.Join(s.dir, "own", "kubeconfig")
	if _, errOut, err := in.CLI(ctx, "cluster", "kubeconfig", name, "--output", own); err != nil {
		t.Fatalf("cluster kubeconfig: %v %s", err, errOut)
	}
	if b, _ := os.ReadFile(own); strings.Contains(string(b), "client-certificate") || !strings.Contains(string(b), "get-token") {
		t.Fatalf("cluster kubeconfig is not an exec-plugin kubeconfig:\n%s", b)
	}
	if out, err := s.kubectl(ctx, own, envWithout(s.env, "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"), "get", "ns"); err != nil {
		t.Fatalf("kubectl with cellplane's kubeconfig: %v %s", err, out)
	}
	if out, err := s.kubectl(ctx, kc, s.env, "create", "namespace", "team-a"); err != nil {
		t.Fatalf("creating team-a as the creator: %v %s", err, out)
	}

	phase("the creator signed in by its bootstrap entry")

	// A second user, with a credentials file and profile of its own.
	t.Cleanup(func() { cleanupSignInPrincipals(in) })
	devARN := "arn:aws:iam::" + acct + ":user/" + signInUser
	devEnv := s.newUser(ctx, t)
	devKC := s.updateKubeconfig(ctx, t, devEnv)
	if out, err := s.kubectl(ctx, devKC, devEnv, "get", "pods", "-n", "team-a"); err == nil || !refusal(out) {
		t.Fatalf("a user without an access entry: %v %s", err, out)
	}

	// View in team-a through the EKS API.
	entryAt := time.Now()
	if _, err := sdk.CreateAccessEntry(ctx, &awseks.CreateAccessEntryInput{ClusterName: aws.String(name), PrincipalArn: aws.String(devARN)}); err != nil {
		t.Fatalf("CreateAccessEntry %s: %v", devARN, err)
	}
	if _, err := sdk.AssociateAccessPolicy(ctx, &awseks.AssociateAccessPolicyInput{ClusterName: aws.String(name), PrincipalArn: aws.String(devARN),
		PolicyArn:   aws.String(viewPolicy),
		AccessScope: &types.AccessScope{Type: types.AccessScopeTypeNamespace, Namespaces: []string{"team-a"}}}); err != nil {
		t.Fatalf("AssociateAccessPolicy: %v", err)
	}
	err = framework.Eventually(ctx, 30*time.Second, 500*time.Millisecond, func() (err error) {
		out, err = s.kubectl(ctx, devKC, devEnv, "get", "pods", "-n", "team-a")
		return err
	})
	if err != nil {
		t.Fatalf("the user lists pods in team-a: %v %s\ncell log:\n%s", err, out, cellLog(t, in))
	}
	t.Logf("the user listed pods in team-a %s after CreateAccessEntry", time.Since(entryAt).Round(100*time.Millisecond))
	for _, args := range [][]string{{"get", "pods", "-n", "default"}, {"create", "configmap", "x", "-n", "team-a"}} {
		if out, err := s.kubectl(ctx, devKC, devEnv, args...); err == nil || !strings.Contains(strings.ToLower(out), "forbidden") {
			t.Errorf("the user ran kubectl %v: %v %s", args, err, out)
		}
	}

	phase("the user viewed team-a by its access entry")

	// A role trusting the user, with an entry naming its username.
	roleARN := "arn:aws:iam::" + acct + ":role/" + signInRole
	if _, errOut, err := in.CLI(ctx, "role", "create", signInRole, "--trust", devARN); err != nil {
		t.Fatalf("role create: %v %s", err, errOut)
	}
	if _, err := sdk.CreateAccessEntry(ctx, &awseks.CreateAccessEntryInput{ClusterName: aws.String(name), PrincipalArn: aws.String(roleARN),
		Username: aws.String("deployer:{{SessionName}}"), KubernetesGroups: []string{"signin-deployers"}}); err != nil {
		t.Fatalf("CreateAccessEntry %s: %v", roleARN, err)
	}
	if _, err := sdk.AssociateAccessPolicy(ctx, &awseks.AssociateAccessPolicyInput{ClusterName: aws.String(name), PrincipalArn: aws.String(roleARN),
		PolicyArn: aws.String(viewPolicy), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster}}); err != nil {
		t.Fatalf("AssociateAccessPolicy for the role: %v", err)
	}
	sessionEnv := s.assumeRole(ctx, t, devEnv, roleARN, "s1")
	sessionKC := s.updateKubeconfig(ctx, t, sessionEnv)
	const wantUser = "deployer:s1"
	err = framework.Eventually(ctx, 30*time.Second, 500*time.Millisecond, func() error {
		return s.whoami(ctx, sessionKC, sessionEnv, wantUser, roleARN)
	})
	if err != nil {
		t.Fatalf("the role's session signs in as the role: %v", err)
	}

	phase("the role's session signed in as the role")

	// Revocation: the user's entry deleted and a second key of the creator
	// deactivated at the same moment; fresh tokens of each are refused
	// within the webhook cache TTL.
	second := s.createKey(ctx, t, acct)
	secondEnv := append(envWithout(s.env, "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"),
		"AWS_ACCESS_KEY_ID="+second.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+second.SecretAccessKey,
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	err = framework.Eventually(ctx, 30*time.Second, 500*time.Millisecond, func() error {
		return s.signsIn(ctx, t, secondEnv, http.StatusOK)
	})
	if err != nil {
		t.Fatalf("the creator's second key: %v", err)
	}
	if _, err := sdk.DeleteAccessEntry(ctx, &awseks.DeleteAccessEntryInput{ClusterName: aws.String(name), PrincipalArn: aws.String(devARN)}); err != nil {
		t.Fatalf("DeleteAccessEntry: %v", err)
	}
	deleted := time.Now()
	if _, errOut, err := in.CLI(ctx, "account", "key", "deactivate", acct, second.AccessKeyID); err != nil {
		t.Fatalf("deactivating the second key: %v %s", err, errOut)
	}
	deactivated := time.Now()
	refusedAfter := map[string]time.Duration{}
	err = framework.Eventually(ctx, signin.CacheTTL+15*time.Second, 500*time.Millisecond, func() error {
		for what, c := range map[string]struct {
			env   []string
			since time.Time
		}{"deleted entry": {devEnv, deleted}, "deactivated key": {secondEnv, deactivated}} {
			if _, done := refusedAfter[what]; done {
				continue
			}
			if err := s.signsIn(ctx, t, c.env, http.StatusUnauthorized); err != nil {
				return fmt.Errorf("the %s: %w", what, err)
			}
			refusedAfter[what] = time.Since(c.since)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("still signed in %s after revocation: %v", signin.CacheTTL+15*time.Second, err)
	}
	for what, d := range refusedAfter {
		t.Logf("a %s was refused %s after the change (webhook cache TTL %s)", what, d.Round(100*time.Millisecond), signin.CacheTTL)
	}
	phase("revoked")

	// Tokens the API server must refuse with 401.
	key := s.profileKey(t)
	now := time.Now()
	good := ekstoken.Generate(key, name, "local", now)
	if code := s.get(t, good); code != http.StatusOK {
		t.Fatalf("a good token got HTTP %d", code)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(good, ekstoken.Prefix))
	sig := string(raw[len(raw)-64:])
	flipped := strings.Map(func(r rune) rune {
		if r == 'a' {
			return 'b'
		}
		return r
	}, sig)
	if flipped == sig {
		flipped = "a" + sig[1:]
	}
	for what, token := range map[string]string{
		"another cluster": ekstoken.Generate(key, "another", "local", now),
		"expired":         ekstoken.Generate(key, name, "local", now.Add(-ekstoken.Lifetime-time.Minute)),
		"tampered":        ekstoken.Prefix + base64.RawURLEncoding.EncodeToString([]byte(string(raw[:len(raw)-64])+flipped)),
	} {
		if code := s.get(t, token); code != http.StatusUnauthorized {
			t.Errorf("a token for %s got HTTP %d, want 401", what, code)
		}
	}
	otherCluster, err := s.awsGetToken(ctx, s.env, "another")
	if err != nil {
		t.Fatal(err)
	}
	if code := s.get(t, otherCluster); code != http.StatusUnauthorized {
		t.Errorf("awscli's token for another cluster got HTTP %d, want 401", code)
	}

	phase("bad tokens refused")

	// The region store stopped: sign-in is the cell's alone.
	pids := regionStorePIDs(t, in)
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	}
	resume := func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	if out, err := s.kubectl(ctx, kc, s.env, "get", "ns"); err != nil || !strings.Contains(out, "kube-system") {
		t.Fatalf("kubectl get ns as the creator with the region store stopped: %v %s", err, out)
	}
	if err := s.whoami(ctx, sessionKC, sessionEnv, wantUser, roleARN); err != nil {
		t.Fatalf("the role's session with the region store stopped: %v", err)
	}
	if out, err := s.kubectl(ctx, sessionKC, sessionEnv, "get", "ns"); err != nil {
		t.Fatalf("kubectl get ns as the role with the region store stopped: %v %s", err, out)
	}
	if code := s.get(t, ekstoken.Generate(key, "another", "local", time.Now())); code != http.StatusUnauthorized {
		t.Errorf("with the region store stopped, a token for another cluster got HTTP %d", code)
	}
	resume()
	phase("the creator and the role's session signed in with the region store stopped")
}

// The principals TestSignIn makes, removed when it ends.
const (
	signInUser = "signin-dev"
	signInRole = "signin-deploy"
)

// cleanupSignInPrincipals removes what TestSignIn made, so the shared
// instance can run it again.
func cleanupSignInPrincipals(in *framework.Instance) {
	ctx := context.Background()
	_, _, _ = in.CLI(ctx, "role", "delete", signInRole)
	out, _, _ := in.CLI(ctx, "user", "key", "list", signInUser, "-o", "json")
	var keys struct {
		AccessKeys []struct{ AccessKeyID string } `json:"accessKeys"`
	}
	_ = json.Unmarshal([]byte(out), &keys)
	for _, k := range keys.AccessKeys {
		_, _, _ = in.CLI(ctx, "user", "key", "delete", signInUser, k.AccessKeyID)
	}
	_, _, _ = in.CLI(ctx, "user", "delete", signInUser)
}

// refusal is kubectl's output for a 401 or a 403.
func refusal(out string) bool {
	return strings.Contains(out, "You must be logged in") || strings.Contains(strings.ToLower(out), "forbidden")
}

type signInHarness struct {
	in        *framework.Instance
	name      string
	dir       string
	base      []string // no AWS identity: PATH, the CA bundle, no pager
	env       []string // the creator's: the data directory's profile
	endpoint  string
	transport *http.Transport
	apiURL    string
}

func newSignInHarness(ctx context.Context, t *testing.T, in *framework.Instance, name string) *signInHarness {
	ep, err := datadir.ReadEndpoint(in.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	s := &signInHarness{in: in, name: name, dir: t.TempDir(), endpoint: ep.URL}
	// As cellplane up prints them; PATH puts Debian's aws first for the
	// kubeconfig's exec plugin, which runs "aws".
	s.base = append(envWithout(withoutAWS(os.Environ()), "PATH"),
		"PATH=/usr/bin:/bin:/usr/sbin:/sbin",
		"AWS_CA_BUNDLE="+ep.CAFile, "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true")
	s.env = append(slices.Clip(s.base),
		"AWS_CONFIG_FILE="+datadir.AWSConfigFile(in.DataDir),
		"AWS_SHARED_CREDENTIALS_FILE="+datadir.AWSCredentialsFile(in.DataDir),
		"AWS_PROFILE="+datadir.Profile)
	cl := describe(ctx, t, in, name)
	ca, err := base64.StdEncoding.DecodeString(cl.CertificateAuthority.Data)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	s.transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(s.transport.CloseIdleConnections)
	s.apiURL = cl.Endpoint + "/api/v1/namespaces"
	return s
}

// updateKubeconfig runs `aws eks update-kubeconfig` as the caller env
// names, into a file of its own: awscli writes the caller's profile, if any,
// into the exec plugin's environment.
func (s *signInHarness) updateKubeconfig(ctx context.Context, t *testing.T, env []string) string {
	t.Helper()
	dir, err := os.MkdirTemp(s.dir, "kubeconfig-")
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dir, "kubeconfig")
	cmd := exec.CommandContext(ctx, awsCLI, "eks", "update-kubeconfig", "--name", s.name, "--region", "local",
		"--endpoint-url", s.endpoint, "--kubeconfig", kc)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("aws eks update-kubeconfig: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(kc)
	if !strings.Contains(string(b), "get-token") {
		t.Fatalf("update-kubeconfig wrote no exec plugin:\n%s", b)
	}
	return kc
}

// newUser makes signInUser with `cellplane user create` and `user key
// create --credentials-file`, and returns the environment of a customer
// using that key as its own profile.
func (s *signInHarness) newUser(ctx context.Context, t *testing.T) []string {
	t.Helper()
	dir := filepath.Join(s.dir, signInUser)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := s.in.CLI(ctx, "user", "create", signInUser); err != nil {
		t.Fatalf("user create: %v %s", err, errOut)
	}
	creds := filepath.Join(dir, "credentials")
	if _, errOut, err := s.in.CLI(ctx, "user", "key", "create", signInUser, "--credentials-file", creds, "--profile", "dev"); err != nil {
		t.Fatalf("user key create: %v %s", err, errOut)
	}
	config := filepath.Join(dir, "config")
	writeFile(t, config, "[profile dev]\nregion = local\n")
	return append(slices.Clip(s.base), "AWS_CONFIG_FILE="+config, "AWS_SHARED_CREDENTIALS_FILE="+creds, "AWS_PROFILE=dev")
}

// assumeRole runs `aws sts assume-role --endpoint-url` as env and returns
// the environment with the session's credentials exported, and no profile.
func (s *signInHarness) assumeRole(ctx context.Context, t *testing.T, env []string, role, session string) []string {
	t.Helper()
	cmd := exec.CommandContext(ctx, awsCLI, "sts", "assume-role", "--role-arn", role, "--role-session-name", session,
		"--endpoint-url", s.endpoint, "--output", "json")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("aws sts assume-role: %v %s", err, stderrOf(err))
	}
	var resp struct {
		Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken string }
	}
	if err := json.Unmarshal(out, &resp); err != nil || resp.Credentials.SessionToken == "" {
		t.Fatalf("aws sts assume-role printed %q: %v", out, err)
	}
	none := filepath.Join(s.dir, "none")
	return append(slices.Clip(s.base), "AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none, "AWS_DEFAULT_REGION=local",
		"AWS_ACCESS_KEY_ID="+resp.Credentials.AccessKeyId, "AWS_SECRET_ACCESS_KEY="+resp.Credentials.SecretAccessKey,
		"AWS_SESSION_TOKEN="+resp.Credentials.SessionToken)
}

// whoami checks with `kubectl auth whoami` that the caller signs in as
// username, for principal.
func (s *signInHarness) whoami(ctx context.Context, kubeconfig string, env []string, username, principal string) error {
	out, err := s.kubectl(ctx, kubeconfig, env, "auth", "whoami", "-o", "json")
	if err != nil {
		return err
	}
	var review struct {
		Status struct {
			UserInfo struct {
				Username string
				Groups   []string
				Extra    map[string][]string
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &review); err != nil {
		return fmt.Errorf("kubectl auth whoami printed %q: %w", out, err)
	}
	u := review.Status.UserInfo
	if u.Username != username || !slices.Contains(u.Groups, "signin-deployers") || !slices.Equal(u.Extra[signin.ExtraPrincipal], []string{principal}) {
		return fmt.Errorf("kubectl auth whoami: %+v, want user %s of %s", u, username, principal)
	}
	return nil
}

// signsIn gets a fresh token with `aws eks get-token` as env and checks the
// status the API server answers it with.
func (s *signInHarness) signsIn(ctx context.Context, t *testing.T, env []string, want int) error {
	token, err := s.awsGetToken(ctx, env, s.name)
	if err != nil {
		return err
	}
	if code := s.get(t, token); code != want {
		return fmt.Errorf("HTTP %d, want %d", code, want)
	}
	return nil
}

// stderrOf is what a failed command printed on its standard error.
func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

func (s *signInHarness) kubectl(ctx context.Context, kubeconfig string, env []string, args ...string) (string, error) {
	cache := "--cache-dir=" + filepath.Join(filepath.Dir(kubeconfig), "kube-cache")
	cmd := exec.CommandContext(ctx, bins.Tools.Kubectl, append([]string{"--kubeconfig", kubeconfig, cache, "--request-timeout=10s"}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (s *signInHarness) awsGetToken(ctx context.Context, env []string, cluster string) (string, error) {
	cmd := exec.CommandContext(ctx, awsCLI, "--region", "local", "eks", "get-token", "--cluster-name", cluster)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("aws eks get-token: %w", err)
	}
	var cred struct{ Status struct{ Token string } }
	if err := json.Unmarshal(out, &cred); err != nil {
		return "", fmt.Errorf("aws eks get-token printed %q", out)
	}
	return cred.Status.Token, nil
}

// get lists namespaces with token and returns the HTTP status.
func (s *signInHarness) get(t *testing.T, token string) int {
	req, _ := http.NewRequest(http.MethodGet, s.apiURL, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Transport: s.transport, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// profileKey reads the credentials cellplane up wrote for the first account.
func (s *signInHarness) profileKey(t *testing.T) ekstoken.Credentials {
	b, err := os.ReadFile(datadir.AWSCredentialsFile(s.in.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	var c ekstoken.Credentials
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			c.AccessKeyID = strings.TrimSpace(v)
		case "aws_secret_access_key":
			c.SecretAccessKey = strings.TrimSpace(v)
		}
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		t.Fatalf("no key in the profile's credentials:\n%s", b)
	}
	return c
}

func (s *signInHarness) createKey(ctx context.Context, t *testing.T, acct string) createdKey {
	out, errOut, err := s.in.CLI(ctx, "account", "key", "create", acct, "--output", "json")
	if err != nil {
		t.Fatalf("account key create: %v %s", err, errOut)
	}
	var created struct{ AccessKey createdKey }
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.AccessKey.SecretAccessKey == "" {
		t.Fatalf("account key create printed %q: %v", out, err)
	}
	t.Cleanup(func() {
		_, _, _ = s.in.CLI(context.Background(), "account", "key", "delete", acct, created.AccessKey.AccessKeyID)
	})
	return created.AccessKey
}

// envWithout is env without the named variables.
func envWithout(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || k == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}
