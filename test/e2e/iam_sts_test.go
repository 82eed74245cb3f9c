package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/test/framework"
)

// TestIAMAndSTS: principals made with `cellplane user|role`, and STS on the
// regional API driven by Debian's awscli (`aws sts get-caller-identity`,
// `aws sts assume-role` with --endpoint-url, the session's credentials
// exported to `aws eks`) and by aws-sdk-go-v2's role profiles
// (role_arn + source_profile, AWS_ENDPOINT_URL_STS).
func TestIAMAndSTS(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	ep, err := datadir.ReadEndpoint(in.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	acct := v1alpha1.DefaultAccount
	cli := func(args ...string) string {
		t.Helper()
		out, errOut, err := in.CLI(ctx, args...)
		if err != nil {
			t.Fatalf("cellplane %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		return out
	}
	tmp := t.TempDir()
	profileEnv := []string{
		"AWS_CONFIG_FILE=" + datadir.AWSConfigFile(in.DataDir),
		"AWS_SHARED_CREDENTIALS_FILE=" + datadir.AWSCredentialsFile(in.DataDir),
		"AWS_PROFILE=" + datadir.Profile,
	}
	// aws runs Debian's awscli with env on top of a clean AWS environment.
	awsRun := func(env []string, args ...string) (string, string, error) {
		cmd := exec.CommandContext(ctx, awsCLI, append(args, "--endpoint-url", ep.URL, "--output", "json")...)
		cmd.Env = append(withoutAWS(os.Environ()),
			"AWS_CONFIG_FILE="+filepath.Join(tmp, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(tmp, "none"),
			"AWS_DEFAULT_REGION=local", "AWS_CA_BUNDLE="+ep.CAFile, "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true")
		cmd.Env = append(cmd.Env, env...)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}
	must := func(env []string, args ...string) map[string]any {
		t.Helper()
		out, errOut, err := awsRun(env, args...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("aws %s printed %q", strings.Join(args, " "), out)
		}
		return v
	}
	refused := func(env []string, want string, args ...string) {
		t.Helper()
		if _, errOut, err := awsRun(env, args...); err == nil || !strings.Contains(errOut, want) {
			t.Fatalf("aws %s = %v %s; want %s", strings.Join(args, " "), err, errOut, want)
		}
	}

	if id := must(profileEnv, "sts", "get-caller-identity"); id["Arn"] != "arn:aws:iam::"+acct+":user/admin" || id["Account"] != acct {
		t.Fatalf("get-caller-identity with the data directory's profile = %v", id)
	}

	// A user with a key, a role trusting it and one that does not.
	cli("user", "create", "e2e-dev")
	t.Cleanup(func() { cleanupPrincipals(in) })
	var created struct {
		AccessKey struct{ AccessKeyID, SecretAccessKey, Principal string } `json:"accessKey"`
	}
	if err := json.Unmarshal([]byte(cli("user", "key", "create", "e2e-dev", "-o", "json")), &created); err != nil {
		t.Fatal(err)
	}
	devARN := "arn:aws:iam::" + acct + ":user/e2e-dev"
	if created.AccessKey.Principal != devARN {
		t.Fatalf("user key create: %+v", created.AccessKey)
	}
	roleARN := "arn:aws:iam::" + acct + ":role/e2e-deploy"
	cli("role", "create", "e2e-deploy", "--trust", devARN)
	cli("role", "create", "e2e-admins-only", "--trust", "arn:aws:iam::"+acct+":user/admin")
	if out := cli("role", "list"); !strings.Contains(out, roleARN) || !strings.Contains(out, devARN) {
		t.Fatalf("role list:\n%s", out)
	}
	if _, errOut, err := in.CLI(ctx, "role", "create", "e2e-bad", "--trust", "arn:aws:iam::"+acct+":user/nobody"); err == nil || !strings.Contains(errOut, "does not exist") {
		t.Fatalf("role trusting an unknown user: %v %s", err, errOut)
	}
	if _, errOut, err := in.CLI(ctx, "user", "delete", "e2e-dev"); err == nil || !strings.Contains(errOut, "access keys") {
		t.Fatalf("deleting a user with keys: %v %s", err, errOut)
	}

	devEnv := []string{"AWS_ACCESS_KEY_ID=" + created.AccessKey.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + created.AccessKey.SecretAccessKey}
	if id := must(devEnv, "sts", "get-caller-identity"); id["Arn"] != devARN {
		t.Fatalf("get-caller-identity as e2e-dev = %v", id)
	}
	assumed := must(devEnv, "sts", "assume-role", "--role-arn", roleARN, "--role-session-name", "s1")
	c := assumed["Credentials"].(map[string]any)
	session := []string{"AWS_ACCESS_KEY_ID=" + fmt.Sprint(c["AccessKeyId"]), "AWS_SECRET_ACCESS_KEY=" + fmt.Sprint(c["SecretAccessKey"]),
		"AWS_SESSION_TOKEN=" + fmt.Sprint(c["SessionToken"])}
	sessionARN := "arn:aws:sts::" + acct + ":assumed-role/e2e-deploy/s1"
	if id := must(session, "sts", "get-caller-identity"); id["Arn"] != sessionARN || id["Account"] != acct {
		t.Fatalf("get-caller-identity as the session = %v", id)
	}
	// awscli 2.9 prints nothing for an empty page of clusters: success is
	// the exit status (a refused signature fails it, as the checks below show).
	if out, errOut, err := awsRun(session, "eks", "list-clusters"); err != nil || (out != "" && !strings.Contains(out, `"clusters"`)) {
		t.Fatalf("list-clusters as the session: %v %q %s", err, out, errOut)
	}
	refused(devEnv, "AccessDenied", "sts", "assume-role", "--role-arn", "arn:aws:iam::"+acct+":role/e2e-admins-only", "--role-session-name", "s1")
	refused(devEnv, "ValidationError", "sts", "assume-role", "--role-arn", roleARN, "--role-session-name", "s1", "--duration-seconds", "50000")

	token := fmt.Sprint(c["SessionToken"])
	tampered := append([]string{}, session[:2]...)
	tampered = append(tampered, "AWS_SESSION_TOKEN="+token[:len(token)-6]+flip(token[len(token)-6:]))
	refused(tampered, "InvalidClientTokenId", "sts", "get-caller-identity")
	refused(tampered, "UnrecognizedClientException", "eks", "list-clusters")

	// aws-sdk-go-v2: a role profile whose source profile is the user.
	configFile, credsFile := filepath.Join(tmp, "config"), filepath.Join(tmp, "credentials")
	writeFile(t, configFile, "[profile dev]\nregion = local\n[profile deploy]\nregion = local\nrole_arn = "+roleARN+
		"\nsource_profile = dev\nrole_session_name = sdk\n")
	writeFile(t, credsFile, "[dev]\naws_access_key_id = "+created.AccessKey.AccessKeyID+"\naws_secret_access_key = "+created.AccessKey.SecretAccessKey+"\n")
	t.Setenv("AWS_ENDPOINT_URL_STS", ep.URL)
	t.Setenv("AWS_ENDPOINT_URL_EKS", ep.URL)
	ca, err := os.ReadFile(ep.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithCustomCABundle(bytes.NewReader(ca)),
		config.WithSharedConfigFiles([]string{configFile}), config.WithSharedCredentialsFiles([]string{credsFile}),
		config.WithSharedConfigProfile("deploy"))
	if err != nil {
		t.Fatalf("loading the role profile: %v", err)
	}
	id, err := awssts.NewFromConfig(cfg).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Arn) != "arn:aws:sts::"+acct+":assumed-role/e2e-deploy/sdk" {
		t.Fatalf("SDK GetCallerIdentity as the role profile = %+v, %v", id, err)
	}
	if _, err := awseks.NewFromConfig(cfg).ListClusters(ctx, &awseks.ListClustersInput{}); err != nil {
		t.Fatalf("SDK ListClusters as the role: %v", err)
	}
}

// cleanupPrincipals removes what the test made, so the shared instance can
// run it again.
func cleanupPrincipals(in *framework.Instance) {
	ctx := context.Background()
	for _, r := range []string{"e2e-deploy", "e2e-admins-only"} {
		_, _, _ = in.CLI(ctx, "role", "delete", r)
	}
	out, _, _ := in.CLI(ctx, "user", "key", "list", "e2e-dev", "-o", "json")
	var keys struct {
		AccessKeys []struct{ AccessKeyID string } `json:"accessKeys"`
	}
	_ = json.Unmarshal([]byte(out), &keys)
	for _, k := range keys.AccessKeys {
		_, _, _ = in.CLI(ctx, "user", "key", "delete", "e2e-dev", k.AccessKeyID)
	}
	_, _, _ = in.CLI(ctx, "user", "delete", "e2e-dev")
}

// withoutAWS drops the AWS_ variables of the test's environment, so only
// what the test sets reaches the aws command.
func withoutAWS(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, "AWS_") {
			out = append(out, e)
		}
	}
	return out
}

// flip changes every character of s into another of the token's alphabet.
func flip(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
