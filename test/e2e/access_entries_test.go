package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/store"
	"github.com/cellplane/cellplane/test/framework"
)

const (
	viewPolicy         = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
	clusterAdminPolicy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
)

// TestAccessEntriesSDK drives every access-entry operation, and every error
// they answer, with the official aws-sdk-go-v2 EKS client; accessConfig on
// create and its one-way update; and the cell's copy of the entries. Entries
// need no ACTIVE cluster, so only the mode change waits for one.
func TestAccessEntriesSDK(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	sdk := sdkClient(t, in.DataDir)

	created, err := sdk.CreateCluster(ctx, &awseks.CreateClusterInput{Name: aws.String("ae-api"), RoleArn: aws.String("arn:aws:iam::000000000000:role/eks"),
		ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-a"}}})
	if err != nil {
		t.Fatalf("CreateCluster ae-api: %v", err)
	}
	if ac := created.Cluster.AccessConfig; ac == nil || ac.AuthenticationMode != types.AuthenticationModeApiAndConfigMap || !aws.ToBool(ac.BootstrapClusterCreatorAdminPermissions) {
		t.Fatalf("default accessConfig %+v", ac)
	}
	_, err = sdk.CreateCluster(ctx, &awseks.CreateClusterInput{Name: aws.String("ae-cm"), RoleArn: aws.String("arn:aws:iam::000000000000:role/eks"),
		ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-a"}},
		AccessConfig:       &types.CreateAccessConfigRequest{AuthenticationMode: types.AuthenticationModeConfigMap, BootstrapClusterCreatorAdminPermissions: aws.Bool(false)}})
	if err != nil {
		t.Fatalf("CreateCluster ae-cm: %v", err)
	}
	account := strings.Split(aws.ToString(created.Cluster.Arn), ":")[4]
	admin := "arn:aws:iam::" + account + ":user/admin"
	alice := "arn:aws:iam::" + account + ":user/alice"
	ops := "arn:aws:iam::" + account + ":role/ae-ops"
	api := aws.String("ae-api")
	// Entries name principals that exist: the users and the role, made
	// with the operator's commands, gone when the test ends.
	for _, args := range [][]string{{"user", "create", "alice"}, {"user", "create", "bob"}, {"role", "create", "ae-ops", "--trust", admin}} {
		if _, errOut, err := in.CLI(ctx, args...); err != nil {
			t.Fatalf("cellplane %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
	}
	t.Cleanup(func() {
		bg := context.Background()
		_, _, _ = in.CLI(bg, "role", "delete", "ae-ops")
		_, _, _ = in.CLI(bg, "user", "delete", "alice")
		_, _, _ = in.CLI(bg, "user", "delete", "bob")
	})

	t.Run("creator is bootstrapped", func(t *testing.T) {
		e := describeEntry(ctx, t, sdk, "ae-api", admin)
		if aws.ToString(e.Username) != admin || aws.ToString(e.Type) != "STANDARD" {
			t.Fatalf("creator's entry %+v", e)
		}
		pol, err := sdk.ListAssociatedAccessPolicies(ctx, &awseks.ListAssociatedAccessPoliciesInput{ClusterName: api, PrincipalArn: aws.String(admin)})
		if err != nil || len(pol.AssociatedAccessPolicies) != 1 || aws.ToString(pol.AssociatedAccessPolicies[0].PolicyArn) != clusterAdminPolicy ||
			pol.AssociatedAccessPolicies[0].AccessScope.Type != types.AccessScopeTypeCluster {
			t.Fatalf("creator's policies %+v %v", pol, err)
		}
	})

	t.Run("ListAccessPolicies", func(t *testing.T) {
		var names []string
		p := awseks.NewListAccessPoliciesPaginator(sdk, &awseks.ListAccessPoliciesInput{MaxResults: aws.Int32(3)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, ap := range page.AccessPolicies {
				names = append(names, aws.ToString(ap.Name))
			}
		}
		if want := []string{"AmazonEKSAdminPolicy", "AmazonEKSClusterAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy"}; !slices.Equal(names, want) {
			t.Fatalf("policies %v, want %v", names, want)
		}
	})

	t.Run("operations", func(t *testing.T) {
		out, err := sdk.CreateAccessEntry(ctx, &awseks.CreateAccessEntryInput{ClusterName: api, PrincipalArn: aws.String(alice),
			KubernetesGroups: []string{"devs"}, Tags: map[string]string{"team": "a"}})
		if err != nil {
			t.Fatalf("CreateAccessEntry alice: %v", err)
		}
		if e := out.AccessEntry; aws.ToString(e.Username) != alice || !slices.Equal(e.KubernetesGroups, []string{"devs"}) ||
			e.Tags["team"] != "a" || e.CreatedAt == nil || !strings.Contains(aws.ToString(e.AccessEntryArn), ":access-entry/ae-api/user/") {
			t.Fatalf("created %+v", e)
		}
		role, err := sdk.CreateAccessEntry(ctx, &awseks.CreateAccessEntryInput{ClusterName: api, PrincipalArn: aws.String(ops)})
		if err != nil {
			t.Fatalf("CreateAccessEntry ops: %v", err)
		}
		if want := "arn:aws:sts::" + account + ":assumed-role/ae-ops/{{SessionName}}"; aws.ToString(role.AccessEntry.Username) != want {
			t.Fatalf("role's default username %q, want %q", aws.ToString(role.AccessEntry.Username), want)
		}
		if got := listEntries(ctx, t, sdk, "ae-api", ""); !slices.Equal(got, []string{ops, admin, alice}) {
			t.Fatalf("ListAccessEntries %v", got)
		}

		up, err := sdk.UpdateAccessEntry(ctx, &awseks.UpdateAccessEntryInput{ClusterName: api, PrincipalArn: aws.String(alice),
			Username: aws.String("alice"), KubernetesGroups: []string{"devs", "oncall"}})
		if err != nil || aws.ToString(up.AccessEntry.Username) != "alice" || !slices.Equal(up.AccessEntry.KubernetesGroups, []string{"devs", "oncall"}) {
			t.Fatalf("UpdateAccessEntry: %+v %v", up, err)
		}
		if e := describeEntry(ctx, t, sdk, "ae-api", alice); aws.ToString(e.Username) != "alice" || !e.ModifiedAt.After(aws.ToTime(e.CreatedAt).Add(-time.Second)) {
			t.Fatalf("described after update %+v", e)
		}

		as, err := sdk.AssociateAccessPolicy(ctx, &awseks.AssociateAccessPolicyInput{ClusterName: api, PrincipalArn: aws.String(alice),
			PolicyArn: aws.String(viewPolicy), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeNamespace, Namespaces: []string{"team-a"}}})
		if err != nil || aws.ToString(as.PrincipalArn) != alice || aws.ToString(as.AssociatedAccessPolicy.PolicyArn) != viewPolicy ||
			!slices.Equal(as.AssociatedAccessPolicy.AccessScope.Namespaces, []string{"team-a"}) {
			t.Fatalf("AssociateAccessPolicy: %+v %v", as, err)
		}
		if got := listEntries(ctx, t, sdk, "ae-api", viewPolicy); !slices.Equal(got, []string{alice}) {
			t.Fatalf("entries with the view policy: %v", got)
		}
		pol, err := sdk.ListAssociatedAccessPolicies(ctx, &awseks.ListAssociatedAccessPoliciesInput{ClusterName: api, PrincipalArn: aws.String(alice)})
		if err != nil || len(pol.AssociatedAccessPolicies) != 1 || pol.AssociatedAccessPolicies[0].AccessScope.Type != types.AccessScopeTypeNamespace {
			t.Fatalf("ListAssociatedAccessPolicies: %+v %v", pol, err)
		}

		// The cell running the cluster holds a copy of its entries.
		cellEntries := cellEntriesOf(ctx, t, in, "ae-api")
		waitCellEntries(ctx, t, cellEntries, func(got map[string]v1alpha1.AccessEntrySpec) error {
			if a, ok := got[alice]; !ok || a.Username != "alice" || len(a.AccessPolicies) != 1 || len(got) != 3 {
				return fmt.Errorf("cell copies %v", got)
			}
			return nil
		})

		if _, err := sdk.DisassociateAccessPolicy(ctx, &awseks.DisassociateAccessPolicyInput{ClusterName: api, PrincipalArn: aws.String(alice), PolicyArn: aws.String(viewPolicy)}); err != nil {
			t.Fatalf("DisassociateAccessPolicy: %v", err)
		}
		if _, err := sdk.DeleteAccessEntry(ctx, &awseks.DeleteAccessEntryInput{ClusterName: api, PrincipalArn: aws.String(ops)}); err != nil {
			t.Fatalf("DeleteAccessEntry: %v", err)
		}
		if got := listEntries(ctx, t, sdk, "ae-api", ""); !slices.Equal(got, []string{admin, alice}) {
			t.Fatalf("after the delete: %v", got)
		}
		waitCellEntries(ctx, t, cellEntries, func(got map[string]v1alpha1.AccessEntrySpec) error {
			if _, ok := got[ops]; ok || len(got[alice].AccessPolicies) != 0 {
				return fmt.Errorf("cell copies %v", got)
			}
			return nil
		})
	})

	t.Run("errors change nothing", func(t *testing.T) {
		scope := func(typ types.AccessScopeType, ns ...string) *types.AccessScope {
			return &types.AccessScope{Type: typ, Namespaces: ns}
		}
		create := func(principal string, mod ...func(*awseks.CreateAccessEntryInput)) func() error {
			return func() error {
				in := &awseks.CreateAccessEntryInput{ClusterName: api, PrincipalArn: aws.String(principal)}
				for _, m := range mod {
					m(in)
				}
				_, err := sdk.CreateAccessEntry(ctx, in)
				return err
			}
		}
		associate := func(cluster, principal, policy string, s *types.AccessScope) func() error {
			return func() error {
				_, err := sdk.AssociateAccessPolicy(ctx, &awseks.AssociateAccessPolicyInput{ClusterName: aws.String(cluster),
					PrincipalArn: aws.String(principal), PolicyArn: aws.String(policy), AccessScope: s})
				return err
			}
		}
		bob := "arn:aws:iam::" + account + ":user/bob"
		for _, tc := range []struct {
			name string
			call func() error
			want string // the EKS error code
			msg  string
		}{
			{"user that does not exist", create("arn:aws:iam::" + account + ":user/nobody"), "InvalidParameterException", "no IAM user or role"},
			{"principal that is no user or role", create("arn:aws:iam::" + account + ":group/devs"), "InvalidParameterException", "IAM user or role"},
			{"session principal", create("arn:aws:sts::" + account + ":assumed-role/ops/s1"), "InvalidParameterException", "IAM user or role"},
			{"principal of another account", create("arn:aws:iam::999999999999:user/eve"), "InvalidParameterException", "another account"},
			{"entry that exists", create(alice), "ResourceInUseException", "already in use"},
			{"system group", create(bob, func(in *awseks.CreateAccessEntryInput) { in.KubernetesGroups = []string{"system:masters"} }), "InvalidParameterException", "cannot start with system:"},
			{"system username", create(bob, func(in *awseks.CreateAccessEntryInput) { in.Username = aws.String("system:admin") }), "InvalidParameterException", "must not begin with system:"},
			{"session template for a user", create(bob, func(in *awseks.CreateAccessEntryInput) { in.Username = aws.String("bob-{{SessionName}}") }), "InvalidParameterException", "only valid for IAM roles"},
			{"unknown template", create(bob, func(in *awseks.CreateAccessEntryInput) { in.Username = aws.String("{{EC2PrivateDNSName}}") }), "InvalidParameterException", "not supported"},
			{"type other than STANDARD", create(bob, func(in *awseks.CreateAccessEntryInput) { in.Type = aws.String("EC2_LINUX") }), "InvalidParameterException", "STANDARD"},
			{"unknown cluster", func() error {
				_, err := sdk.CreateAccessEntry(ctx, &awseks.CreateAccessEntryInput{ClusterName: aws.String("ae-none"), PrincipalArn: aws.String(bob)})
				return err
			}, "ResourceNotFoundException", "No cluster found"},
			{"describe unknown entry", func() error {
				_, err := sdk.DescribeAccessEntry(ctx, &awseks.DescribeAccessEntryInput{ClusterName: api, PrincipalArn: aws.String(bob)})
				return err
			}, "ResourceNotFoundException", "could not be found"},
			{"update unknown entry", func() error {
				_, err := sdk.UpdateAccessEntry(ctx, &awseks.UpdateAccessEntryInput{ClusterName: api, PrincipalArn: aws.String(bob), Username: aws.String("b")})
				return err
			}, "ResourceNotFoundException", "could not be found"},
			{"update to a system group", func() error {
				_, err := sdk.UpdateAccessEntry(ctx, &awseks.UpdateAccessEntryInput{ClusterName: api, PrincipalArn: aws.String(alice), KubernetesGroups: []string{"system:nodes"}})
				return err
			}, "InvalidParameterException", "cannot start with system:"},
			{"delete unknown entry", func() error {
				_, err := sdk.DeleteAccessEntry(ctx, &awseks.DeleteAccessEntryInput{ClusterName: api, PrincipalArn: aws.String(bob)})
				return err
			}, "ResourceNotFoundException", "could not be found"},
			{"list on unknown cluster", func() error {
				_, err := sdk.ListAccessEntries(ctx, &awseks.ListAccessEntriesInput{ClusterName: aws.String("ae-none")})
				return err
			}, "ResourceNotFoundException", "No cluster found"},
			{"list by unknown policy", func() error {
				_, err := sdk.ListAccessEntries(ctx, &awseks.ListAccessEntriesInput{ClusterName: api, AssociatedPolicyArn: aws.String("arn:aws:eks::aws:cluster-access-policy/Nope")})
				return err
			}, "InvalidParameterException", "not a valid access policy"},
			{"unknown policy", associate("ae-api", alice, "arn:aws:eks::aws:cluster-access-policy/AmazonEKSRootPolicy", scope(types.AccessScopeTypeCluster)), "InvalidParameterException", "not a valid access policy"},
			{"namespace scope without namespaces", associate("ae-api", alice, viewPolicy, scope(types.AccessScopeTypeNamespace)), "InvalidParameterException", "namespaces"},
			{"cluster scope with namespaces", associate("ae-api", alice, viewPolicy, scope(types.AccessScopeTypeCluster, "team-a")), "InvalidParameterException", "cannot be specified"},
			{"bad namespace name", associate("ae-api", alice, viewPolicy, scope(types.AccessScopeTypeNamespace, "Team_A")), "InvalidParameterException", "not valid"},
			{"associate to unknown entry", associate("ae-api", bob, viewPolicy, scope(types.AccessScopeTypeCluster)), "ResourceNotFoundException", "could not be found"},
			{"disassociate a policy not associated", func() error {
				_, err := sdk.DisassociateAccessPolicy(ctx, &awseks.DisassociateAccessPolicyInput{ClusterName: api, PrincipalArn: aws.String(alice), PolicyArn: aws.String(viewPolicy)})
				return err
			}, "ResourceNotFoundException", "not associated"},
			{"list policies of unknown entry", func() error {
				_, err := sdk.ListAssociatedAccessPolicies(ctx, &awseks.ListAssociatedAccessPoliciesInput{ClusterName: api, PrincipalArn: aws.String(bob)})
				return err
			}, "ResourceNotFoundException", "could not be found"},
			{"entry on a CONFIG_MAP cluster", func() error {
				_, err := sdk.CreateAccessEntry(ctx, &awseks.CreateAccessEntryInput{ClusterName: aws.String("ae-cm"), PrincipalArn: aws.String(bob)})
				return err
			}, "InvalidRequestException", "authentication mode"},
			{"list on a CONFIG_MAP cluster", func() error {
				_, err := sdk.ListAccessEntries(ctx, &awseks.ListAccessEntriesInput{ClusterName: aws.String("ae-cm")})
				return err
			}, "InvalidRequestException", "authentication mode"},
			{"bad authentication mode", func() error {
				_, err := sdk.CreateCluster(ctx, &awseks.CreateClusterInput{Name: aws.String("ae-bad"), RoleArn: aws.String("arn:aws:iam::000000000000:role/eks"),
					ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-a"}},
					AccessConfig:       &types.CreateAccessConfigRequest{AuthenticationMode: "IAM"}})
				return err
			}, "InvalidParameterException", "authenticationMode"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := entriesState(ctx, t, sdk)
				err := tc.call()
				var apiErr smithy.APIError
				if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.want || !strings.Contains(apiErr.ErrorMessage(), tc.msg) {
					t.Fatalf("got %v, want %s containing %q", err, tc.want, tc.msg)
				}
				if after := entriesState(ctx, t, sdk); after != before {
					t.Fatalf("a refused call changed the entries:\nbefore %s\nafter  %s", before, after)
				}
			})
		}
		if _, err := sdk.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String("ae-bad")}); err == nil {
			t.Fatal("a create with a bad authenticationMode stored its cluster")
		}
	})

	t.Run("mode changes one way", func(t *testing.T) {
		waitActive(ctx, t, sdk, "ae-cm")
		mode := func(m types.AuthenticationMode) (*awseks.UpdateClusterConfigOutput, error) {
			return sdk.UpdateClusterConfig(ctx, &awseks.UpdateClusterConfigInput{Name: aws.String("ae-cm"), AccessConfig: &types.UpdateAccessConfigRequest{AuthenticationMode: m}})
		}
		up, err := mode(types.AuthenticationModeApiAndConfigMap)
		if err != nil || up.Update.Type != types.UpdateTypeAccessConfigUpdate || up.Update.Status != types.UpdateStatusSuccessful ||
			len(up.Update.Params) != 1 || aws.ToString(up.Update.Params[0].Value) != "API_AND_CONFIG_MAP" {
			t.Fatalf("CONFIG_MAP → API_AND_CONFIG_MAP: %+v %v", up, err)
		}
		_, err = mode(types.AuthenticationModeConfigMap)
		var bad *types.InvalidParameterException
		if !errors.As(err, &bad) || !strings.Contains(bad.ErrorMessage(), "Unsupported authentication mode update") {
			t.Fatalf("API_AND_CONFIG_MAP → CONFIG_MAP = %v, want InvalidParameterException", err)
		}
		d, err := sdk.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String("ae-cm")})
		if err != nil || d.Cluster.AccessConfig.AuthenticationMode != types.AuthenticationModeApiAndConfigMap {
			t.Fatalf("mode after the refused change: %+v %v", d.Cluster.AccessConfig, err)
		}
		if _, err := mode(types.AuthenticationModeApi); err != nil {
			t.Fatalf("API_AND_CONFIG_MAP → API: %v", err)
		}
		// Entries are served now; no creator entry was bootstrapped.
		if got := listEntries(ctx, t, sdk, "ae-cm", ""); len(got) != 0 {
			t.Fatalf("entries of ae-cm: %v", got)
		}
	})

	t.Run("entries go with their cluster", func(t *testing.T) {
		cellEntries := cellEntriesOf(ctx, t, in, "ae-api")
		if _, err := sdk.DeleteCluster(ctx, &awseks.DeleteClusterInput{Name: api}); err != nil {
			t.Fatal(err)
		}
		waitGone(ctx, t, sdk, "ae-api")
		waitCellEntries(ctx, t, cellEntries, func(got map[string]v1alpha1.AccessEntrySpec) error {
			if len(got) != 0 {
				return fmt.Errorf("the cell keeps %d entries of a deleted cluster", len(got))
			}
			return nil
		})
	})
}

func describeEntry(ctx context.Context, t *testing.T, sdk *awseks.Client, cluster, principal string) *types.AccessEntry {
	t.Helper()
	out, err := sdk.DescribeAccessEntry(ctx, &awseks.DescribeAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal)})
	if err != nil {
		t.Fatalf("DescribeAccessEntry %s: %v", principal, err)
	}
	return out.AccessEntry
}

// listEntries pages through ListAccessEntries one entry at a time.
func listEntries(ctx context.Context, t *testing.T, sdk *awseks.Client, cluster, policy string) []string {
	t.Helper()
	in := &awseks.ListAccessEntriesInput{ClusterName: aws.String(cluster), MaxResults: aws.Int32(1)}
	if policy != "" {
		in.AssociatedPolicyArn = aws.String(policy)
	}
	var arns []string
	p := awseks.NewListAccessEntriesPaginator(sdk, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListAccessEntries %s: %v", cluster, err)
		}
		arns = append(arns, page.AccessEntries...)
	}
	return arns
}

// entriesState renders every entry of ae-api, with its policies, for
// comparing before and after a refused call.
func entriesState(ctx context.Context, t *testing.T, sdk *awseks.Client) string {
	t.Helper()
	var b strings.Builder
	for _, arn := range listEntries(ctx, t, sdk, "ae-api", "") {
		e := describeEntry(ctx, t, sdk, "ae-api", arn)
		pol, err := sdk.ListAssociatedAccessPolicies(ctx, &awseks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String("ae-api"), PrincipalArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s %v %v", arn, aws.ToString(e.Username), e.KubernetesGroups, aws.ToTime(e.ModifiedAt))
		for _, p := range pol.AssociatedAccessPolicies {
			fmt.Fprintf(&b, " %s %s %v %v", aws.ToString(p.PolicyArn), p.AccessScope.Type, p.AccessScope.Namespaces, aws.ToTime(p.ModifiedAt))
		}
		b.WriteString(";")
	}
	return b.String()
}

// cellEntriesOf lists the entries of a cluster in the store of the cell
// running it, by principal.
func cellEntriesOf(ctx context.Context, t *testing.T, in *framework.Instance, cluster string) func() (map[string]v1alpha1.AccessEntrySpec, error) {
	t.Helper()
	cell := describe(ctx, t, in, cluster).Cellplane.Cell
	inst, err := datadir.LoadInstance(in.DataDir, "", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	block, err := inst.Block()
	if err != nil {
		t.Fatal(err)
	}
	var k int
	if _, err := fmt.Sscanf(cell, "cell-%d", &k); err != nil {
		t.Fatalf("cell %q: %v", cell, err)
	}
	sc, err := store.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	cfg := store.AdminConfig(filepath.Join(datadir.CellDir(in.DataDir, k), "store"), block.Cell(k).StoreIP())
	c, err := client.New(cfg, client.Options{Scheme: sc})
	if err != nil {
		t.Fatal(err)
	}
	return func() (map[string]v1alpha1.AccessEntrySpec, error) {
		var l v1alpha1.AccessEntryList
		if err := c.List(ctx, &l, client.MatchingLabels{v1alpha1.LabelCluster: v1alpha1.ObjectName(cluster)}); err != nil {
			return nil, err
		}
		out := map[string]v1alpha1.AccessEntrySpec{}
		for _, e := range l.Items {
			out[e.Spec.PrincipalARN] = e.Spec
		}
		return out, nil
	}
}

func waitCellEntries(ctx context.Context, t *testing.T, list func() (map[string]v1alpha1.AccessEntrySpec, error), ok func(map[string]v1alpha1.AccessEntrySpec) error) {
	t.Helper()
	start := time.Now()
	err := framework.Eventually(ctx, time.Minute, 100*time.Millisecond, func() error {
		got, err := list()
		if err != nil {
			return err
		}
		return ok(got)
	})
	if err != nil {
		t.Fatalf("the cell's copy of the entries: %v", err)
	}
	t.Logf("the cell's copy of the entries caught up in %v", time.Since(start).Round(time.Millisecond))
}
