package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"

	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/test/framework"
)

// TestTenantProtectionAndQuotas attacks a tenant's boundaries through the
// EKS API with aws-sdk-go-v2, as an account of its own: a protected cluster
// survives DeleteCluster; the account's next cluster past its limit and a
// 51st tag are refused with nothing stored; DescribeCluster's JSON holds no
// host path, PID or component address; bad input gets clear errors.
//
// The account's cluster limit is lowered to 1 with `cellplane account limit`
// (the operator's override, the same code path the default of 100 goes
// through), so the refused create is the limit's next cluster without
// starting 100 real control planes.
func TestTenantProtectionAndQuotas(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	id, tenant, raw := tenantAccount(ctx, t, in, "tenant-sec")
	if out, errOut, err := in.CLI(ctx, "account", "limit", id, "--max-clusters", "1"); err != nil || !strings.Contains(out, "may have 1 clusters (set by the operator)") {
		t.Fatalf("account limit: %v\n%s%s", err, out, errOut)
	}

	fifty := map[string]string{}
	for i := range 50 {
		fifty[fmt.Sprintf("tag-%02d", i)] = "v"
	}
	created, err := tenant.CreateCluster(ctx, createInput("guarded", fifty, true))
	if err != nil {
		t.Fatalf("CreateCluster guarded: %v", err)
	}
	if !aws.ToBool(created.Cluster.DeletionProtection) {
		t.Fatal("CreateCluster did not echo deletionProtection")
	}
	arn := aws.ToString(created.Cluster.Arn)

	t.Run("the cluster past the account's limit is refused, nothing stored", func(t *testing.T) {
		_, err := tenant.CreateCluster(ctx, createInput("second", nil, false))
		wantAPIError(t, err, "ResourceLimitExceededException", "may have at most 1")
		list, err := tenant.ListClusters(ctx, &awseks.ListClustersInput{})
		if err != nil || len(list.Clusters) != 1 || list.Clusters[0] != "guarded" {
			t.Fatalf("ListClusters = %v, %v; want only guarded", list, err)
		}
		if _, err := operatorOf(in).ClusterDetails(ctx, id, "second"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("the region store holds the refused cluster: %v", err)
		}
	})
	t.Run("the 51st tag is refused, nothing stored", func(t *testing.T) {
		_, err := tenant.TagResource(ctx, &awseks.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"tag-50": "v"}})
		wantAPIError(t, err, "ResourceLimitExceededException", "at most 50 tags")
		tags, err := tenant.ListTagsForResource(ctx, &awseks.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
		if err != nil || len(tags.Tags) != 50 {
			t.Fatalf("tags after the refused TagResource: %d, %v", len(tags.Tags), err)
		}
	})

	waitActive(ctx, t, tenant, "guarded")
	t.Run("a protected cluster survives DeleteCluster", func(t *testing.T) {
		_, err := tenant.DeleteCluster(ctx, &awseks.DeleteClusterInput{Name: aws.String("guarded")})
		wantAPIError(t, err, "InvalidRequestException", "deletion protection enabled")
		out, err := tenant.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String("guarded")})
		if err != nil || out.Cluster.Status != types.ClusterStatusActive || !aws.ToBool(out.Cluster.DeletionProtection) {
			t.Fatalf("after the refused delete: %+v, %v", out, err)
		}
	})
	t.Run("DescribeCluster shows the tenant no path, PID or address", func(t *testing.T) {
		checkNoHostInternals(ctx, t, in, tenant, raw, id)
	})
	t.Run("bad input gets clear errors and changes nothing", func(t *testing.T) {
		_, err := tenant.UpdateClusterConfig(ctx, &awseks.UpdateClusterConfigInput{Name: aws.String("guarded"), DeletionProtection: aws.Bool(false),
			Logging: &types.Logging{ClusterLogging: []types.LogSetup{{Enabled: aws.Bool(true), Types: []types.LogType{types.LogTypeApi}}}}})
		wantAPIError(t, err, "InvalidParameterException", "deletionProtection is updated on its own")
		for _, args := range [][]string{
			{"account", "limit", id, "--max-clusters", "-3"},
			{"account", "limit", id, "--max-clusters", "lots"},
			{"account", "limit", "999999999999", "--max-clusters", "5"},
		} {
			if _, errOut, err := in.CLI(ctx, args...); err == nil || errOut == "" {
				t.Errorf("cellplane %s: %v (%q)", strings.Join(args, " "), err, errOut)
			}
		}
		out, err := tenant.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String("guarded")})
		if err != nil || !aws.ToBool(out.Cluster.DeletionProtection) {
			t.Fatalf("bad input changed protection: %v", err)
		}
		if o, _, err := in.CLI(ctx, "account", "limit", id); err != nil || !strings.Contains(o, "may have 1 clusters") {
			t.Fatalf("bad input changed the limit: %v %s", err, o)
		}
	})

	// Turned off, the cluster deletes as any other.
	up, err := tenant.UpdateClusterConfig(ctx, &awseks.UpdateClusterConfigInput{Name: aws.String("guarded"), DeletionProtection: aws.Bool(false)})
	if err != nil {
		t.Fatalf("turning protection off: %v", err)
	}
	if up.Update.Type != types.UpdateTypeDeletionProtectionUpdate || up.Update.Status != types.UpdateStatusSuccessful ||
		len(up.Update.Params) != 1 || up.Update.Params[0].Type != types.UpdateParamTypeDeletionProtection || aws.ToString(up.Update.Params[0].Value) != "false" {
		t.Fatalf("update %+v", up.Update)
	}
	if _, err := tenant.DeleteCluster(ctx, &awseks.DeleteClusterInput{Name: aws.String("guarded")}); err != nil {
		t.Fatalf("DeleteCluster after turning protection off: %v", err)
	}
	waitGone(ctx, t, tenant, "guarded")
	if _, errOut, err := in.CLI(ctx, "account", "delete", id); err != nil {
		t.Errorf("account delete: %v\n%s", err, errOut)
	}
}

// tenantAccount makes an account with `cellplane account create` and returns
// its ID, its SDK client and the recorder of the client's raw responses.
func tenantAccount(ctx context.Context, t *testing.T, in *framework.Instance, name string) (string, *awseks.Client, *rawResponses) {
	t.Helper()
	key := createAccount(ctx, t, in, name)
	base := forgedClient(t, in.DataDir, key.AccessKeyID, key.SecretAccessKey)
	raw := &rawResponses{}
	sdk := awseks.New(base.Options(), func(o *awseks.Options) {
		raw.inner = o.HTTPClient
		o.HTTPClient = raw
	})
	return key.Account, sdk, raw
}

func createInput(name string, tags map[string]string, protect bool) *awseks.CreateClusterInput {
	return &awseks.CreateClusterInput{
		Name: aws.String(name), RoleArn: aws.String("arn:aws:iam::000000000000:role/x"),
		ResourcesVpcConfig: &types.VpcConfigRequest{}, Tags: tags, DeletionProtection: aws.Bool(protect),
	}
}

// checkNoHostInternals reads what a tenant reads of its cluster, byte for
// byte as the API sent it, and looks for what the operator's view holds:
// the data directory's paths, every component's PID and address, the cell.
func checkNoHostInternals(ctx context.Context, t *testing.T, in *framework.Instance, tenant *awseks.Client, raw *rawResponses, account string) {
	full, err := operatorOf(in).ClusterDetails(ctx, account, "guarded")
	if err != nil {
		t.Fatal(err)
	}
	// Searched in the raw bytes: anything shaped like a path, an address or
	// the cell, wherever it is.
	secrets := map[string]*regexp.Regexp{
		"the data directory": regexp.MustCompile(regexp.QuoteMeta(in.DataDir)),
		"a host path":        regexp.MustCompile(`"/|[ =(]/[a-z]`),
		"a pid field":        regexp.MustCompile(`(?i)"pid"`),
		"the cell":           regexp.MustCompile(regexp.QuoteMeta(`"` + full.Cell + `"`)),
	}
	// Searched in the JSON's strings: a PID written into a message. (JSON
	// numbers are sizes and revisions that may equal a PID by chance; a PID
	// field is caught by name above.)
	pids := map[string]*regexp.Regexp{}
	// 3 etcd members, 2 each of the API server, its KMS plugin, the
	// controller-manager and the scheduler; the plugins have no address.
	if len(full.Components) != 11 {
		t.Fatalf("the operator's view has %d components", len(full.Components))
	}
	for _, c := range full.Components {
		if c.PID == 0 || (c.Address == "" && !strings.HasPrefix(c.Name, "kms-plugin")) {
			t.Fatalf("the operator's view lacks %s's PID or address: %+v", c.Name, c)
		}
		pids[c.Name+"'s PID"] = regexp.MustCompile(`\b` + strconv.Itoa(c.PID) + `\b`)
		if c.Address != "" {
			secrets[c.Name+"'s address"] = regexp.MustCompile(regexp.QuoteMeta(c.Address))
		}
	}
	reads := map[string]func() error{
		"DescribeCluster": func() error {
			_, err := tenant.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String("guarded")})
			return err
		},
		"ListClusters": func() error {
			_, err := tenant.ListClusters(ctx, &awseks.ListClustersInput{})
			return err
		},
		"DescribeUpdate": func() error {
			ups, err := tenant.ListUpdates(ctx, &awseks.ListUpdatesInput{Name: aws.String("guarded")})
			if err != nil || len(ups.UpdateIds) == 0 {
				return fmt.Errorf("ListUpdates = %v, %v", ups, err)
			}
			_, err = tenant.DescribeUpdate(ctx, &awseks.DescribeUpdateInput{Name: aws.String("guarded"), UpdateId: aws.String(ups.UpdateIds[0])})
			return err
		},
	}
	// DescribeUpdate needs an update: turning protection on again records one.
	if _, err := tenant.UpdateClusterConfig(ctx, &awseks.UpdateClusterConfigInput{Name: aws.String("guarded"), DeletionProtection: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	for op, read := range reads {
		raw.reset()
		if err := read(); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		body := raw.all()
		if len(body) == 0 {
			t.Fatalf("%s: no response recorded", op)
		}
		for what, re := range secrets {
			if loc := re.FindIndex(body); loc != nil {
				t.Errorf("%s shows the tenant %s: ...%s...", op, what, body[max(0, loc[0]-80):min(len(body), loc[1]+80)])
			}
		}
		text := jsonStrings(t, body)
		for what, re := range pids {
			if loc := re.FindStringIndex(text); loc != nil {
				t.Errorf("%s shows the tenant %s: ...%s...", op, what, text[max(0, loc[0]-80):min(len(text), loc[1]+80)])
			}
		}
	}
}

// jsonStrings returns every string of the JSON documents in body (one per
// line), keys included, one per line.
func jsonStrings(t *testing.T, body []byte) string {
	t.Helper()
	var out strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out.WriteString(x + "\n")
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for k, e := range x {
				out.WriteString(k + "\n")
				walk(e)
			}
		}
	}
	for _, line := range bytes.Split(bytes.TrimSpace(body), []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var v any
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("response is not JSON: %v: %s", err, line)
		}
		walk(v)
	}
	return out.String()
}

// rawResponses is an HTTP client that keeps the bodies of the responses it
// hands the SDK.
type rawResponses struct {
	inner awseks.HTTPClient
	mu    sync.Mutex
	body  bytes.Buffer
}

func (r *rawResponses) Do(req *http.Request) (*http.Response, error) {
	resp, err := r.inner.Do(req)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.body.Write(data)
	r.body.WriteByte('\n')
	return resp, nil
}

func (r *rawResponses) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.body.Reset()
}

func (r *rawResponses) all() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.body.Bytes())
}

// wantAPIError checks an SDK error's EKS type and that its message says msg.
func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != code || !strings.Contains(apiErr.ErrorMessage(), msg) {
		t.Fatalf("want %s saying %q, got %v", code, msg, err)
	}
}
