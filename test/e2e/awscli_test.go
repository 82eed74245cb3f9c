package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/test/framework"
)

// awsCLI is Debian's awscli, which hack/test.sh installs. The full path keeps a
// differently installed `aws` on PATH (a pyenv shim, say) out of the test.
const awsCLI = "/usr/bin/aws"

// TestAWSCLI drives the service with the real `aws eks` command line, configured
// by what cellplane up prints (the profile's files and AWS_CA_BUNDLE) and
// --endpoint-url.
func TestAWSCLI(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	ep, err := datadir.ReadEndpoint(in.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	aws := func(args ...string) (string, string, error) {
		cmd := exec.CommandContext(ctx, awsCLI, append([]string{"eks", "--endpoint-url", ep.URL, "--output", "json"}, args...)...)
		cmd.Env = append(os.Environ(),
			"AWS_CONFIG_FILE="+datadir.AWSConfigFile(in.DataDir),
			"AWS_SHARED_CREDENTIALS_FILE="+datadir.AWSCredentialsFile(in.DataDir),
			"AWS_PROFILE="+datadir.Profile, "AWS_CA_BUNDLE="+ep.CAFile, // as cellplane up prints them
			"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true")
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}
	must := func(args ...string) map[string]any {
		t.Helper()
		out, errOut, err := aws(args...)
		if err != nil {
			t.Fatalf("aws eks %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("aws eks %s printed %q", strings.Join(args, " "), out)
		}
		return v
	}

	created := must("create-cluster", "--name", "cli-one", "--kubernetes-version", "1.37",
		"--role-arn", "arn:aws:iam::000000000000:role/eks", "--resources-vpc-config", "subnetIds=subnet-1")
	if c := created["cluster"].(map[string]any); c["name"] != "cli-one" || c["status"] != "CREATING" {
		t.Fatalf("create-cluster returned %v", c)
	}
	if l := must("list-clusters"); fmt.Sprint(l["clusters"]) != "[cli-one]" {
		t.Fatalf("list-clusters = %v", l)
	}
	d := must("describe-cluster", "--name", "cli-one")["cluster"].(map[string]any)
	if !strings.HasPrefix(fmt.Sprint(d["arn"]), "arn:cellplane:eks:local:000000000000:cluster/cli-one") {
		t.Fatalf("describe-cluster = %v", d)
	}
	if _, errOut, err := aws("tag-resource", "--resource-arn", fmt.Sprint(d["arn"]), "--tags", "team=a"); err != nil {
		t.Fatalf("tag-resource: %v %s", err, errOut)
	}
	if tags := must("list-tags-for-resource", "--resource-arn", fmt.Sprint(d["arn"])); fmt.Sprint(tags["tags"]) != "map[team:a]" {
		t.Fatalf("list-tags-for-resource = %v", tags)
	}
	if _, errOut, err := aws("describe-cluster", "--name", "nosuch"); err == nil || !strings.Contains(errOut, "ResourceNotFoundException") {
		t.Fatalf("describe of an unknown cluster: %v %s", err, errOut)
	}
	if _, errOut, err := aws("create-cluster", "--name", "bad.name", "--role-arn", "r", "--resources-vpc-config", "subnetIds=s"); err == nil || !strings.Contains(errOut, "InvalidParameterException") {
		t.Fatalf("create with a bad name: %v %s", err, errOut)
	}
	if got := must("delete-cluster", "--name", "cli-one")["cluster"].(map[string]any); got["status"] != "DELETING" {
		t.Fatalf("delete-cluster = %v", got)
	}
	waitGone(context.Background(), t, sdkClient(t, in.DataDir), "cli-one")
}
