package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/cellplane/cellplane/internal/addoncatalog"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/test/framework"
)

// TestAddonsSDK drives the managed add-on operations, and every error they
// answer, with the aws-sdk-go-v2 EKS client, and checks what the cell
// applied into the tenant cluster: the default add-ons, resolveConflicts
// against a manual edit, and DeleteAddon with and without preserve. The
// cluster has no nodes, so the add-ons are DEGRADED with
// InsufficientNumberOfReplicas, as EKS reports them.
func TestAddonsSDK(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	sdk := sdkClient(t, in.DataDir)
	minor := components.Default().Minor
	create := func(name string, bootstrap *bool) {
		_, err := sdk.CreateCluster(ctx, &awseks.CreateClusterInput{Name: aws.String(name), RoleArn: aws.String("arn:aws:iam::000000000000:role/eks"),
			ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-a"}}, BootstrapSelfManagedAddons: bootstrap})
		if err != nil {
			t.Fatalf("CreateCluster %s: %v", name, err)
		}
	}
	create("ad-api", nil)
	create("ad-none", aws.Bool(false))
	api, none := aws.String("ad-api"), aws.String("ad-none")

	t.Run("defaults and opt-out", func(t *testing.T) {
		if got := listAddons(ctx, t, sdk, "ad-api"); !slices.Equal(got, []string{"coredns", "kube-proxy"}) {
			t.Fatalf("ad-api's add-ons %v", got)
		}
		if got := listAddons(ctx, t, sdk, "ad-none"); len(got) != 0 {
			t.Fatalf("ad-none's add-ons %v", got)
		}
		a := describeAddon(ctx, t, sdk, "ad-api", "kube-proxy")
		if want := components.Default().Version + "-eksbuild.1"; aws.ToString(a.AddonVersion) != want {
			t.Fatalf("kube-proxy version %s, want %s", aws.ToString(a.AddonVersion), want)
		}
		if !strings.Contains(aws.ToString(a.AddonArn), ":addon/ad-api/kube-proxy/") || a.CreatedAt == nil {
			t.Fatalf("kube-proxy %+v", a)
		}
	})

	t.Run("versions", func(t *testing.T) {
		out, err := sdk.DescribeAddonVersions(ctx, &awseks.DescribeAddonVersionsInput{KubernetesVersion: aws.String(minor)})
		if err != nil || len(out.Addons) != 2 {
			t.Fatalf("DescribeAddonVersions %s: %+v %v", minor, out, err)
		}
		for _, a := range out.Addons {
			def, _ := addoncatalog.Default(aws.ToString(a.AddonName), minor)
			found := false
			for _, v := range a.AddonVersions {
				for _, c := range v.Compatibilities {
					found = found || (aws.ToString(v.AddonVersion) == def.Version && aws.ToString(c.ClusterVersion) == minor && c.DefaultVersion)
				}
			}
			if !found {
				t.Fatalf("%s: no default %s for %s in %+v", aws.ToString(a.AddonName), def.Version, minor, a.AddonVersions)
			}
		}
		one, err := sdk.DescribeAddonVersions(ctx, &awseks.DescribeAddonVersionsInput{AddonName: aws.String("coredns")})
		if err != nil || len(one.Addons) != 1 || aws.ToString(one.Addons[0].AddonName) != "coredns" {
			t.Fatalf("filtered by name: %+v %v", one, err)
		}
		_, err = sdk.DescribeAddonVersions(ctx, &awseks.DescribeAddonVersionsInput{KubernetesVersion: aws.String("1.20")})
		wantCode(t, err, "InvalidParameterException")
		cfg, err := sdk.DescribeAddonConfiguration(ctx, &awseks.DescribeAddonConfigurationInput{AddonName: aws.String("coredns"),
			AddonVersion: aws.String(defaultVersion("coredns", minor))})
		if err != nil || !strings.Contains(aws.ToString(cfg.ConfigurationSchema), "replicaCount") {
			t.Fatalf("DescribeAddonConfiguration %+v %v", cfg, err)
		}
	})

	t.Run("bad input changes nothing", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			in   *awseks.CreateAddonInput
			code string
		}{
			{"unknown add-on", &awseks.CreateAddonInput{ClusterName: none, AddonName: aws.String("vpc-cni")}, "InvalidParameterException"},
			{"version not offered", &awseks.CreateAddonInput{ClusterName: none, AddonName: aws.String("kube-proxy"), AddonVersion: aws.String("v1.20.0-eksbuild.1")}, "InvalidParameterException"},
			{"bad configuration", &awseks.CreateAddonInput{ClusterName: none, AddonName: aws.String("coredns"), ConfigurationValues: aws.String(`{"replicas":3}`)}, "InvalidParameterException"},
			{"bad resolveConflicts", &awseks.CreateAddonInput{ClusterName: none, AddonName: aws.String("coredns"), ResolveConflicts: "SOMETIMES"}, "InvalidParameterException"},
			{"duplicate", &awseks.CreateAddonInput{ClusterName: api, AddonName: aws.String("coredns")}, "ResourceInUseException"},
			{"unknown cluster", &awseks.CreateAddonInput{ClusterName: aws.String("ad-nope"), AddonName: aws.String("coredns")}, "ResourceNotFoundException"},
		} {
			_, err := sdk.CreateAddon(ctx, tc.in)
			if apiCode(err) != tc.code {
				t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
			}
		}
		if got := listAddons(ctx, t, sdk, "ad-none"); len(got) != 0 {
			t.Fatalf("refused creates left add-ons: %v", got)
		}
		_, err := sdk.DescribeAddon(ctx, &awseks.DescribeAddonInput{ClusterName: none, AddonName: aws.String("coredns")})
		wantCode(t, err, "ResourceNotFoundException")
		_, err = sdk.UpdateAddon(ctx, &awseks.UpdateAddonInput{ClusterName: none, AddonName: aws.String("coredns")})
		wantCode(t, err, "ResourceNotFoundException")
		_, err = sdk.DeleteAddon(ctx, &awseks.DeleteAddonInput{ClusterName: none, AddonName: aws.String("kube-proxy")})
		wantCode(t, err, "ResourceNotFoundException")
		_, err = sdk.ListUpdates(ctx, &awseks.ListUpdatesInput{Name: none, AddonName: aws.String("coredns")})
		wantCode(t, err, "ResourceNotFoundException")
		_, err = sdk.UpdateAddon(ctx, &awseks.UpdateAddonInput{ClusterName: api, AddonName: aws.String("kube-proxy"), AddonVersion: aws.String("v1.20.0-eksbuild.1")})
		wantCode(t, err, "InvalidParameterException")
	})

	waitActive(ctx, t, sdk, "ad-api")
	kc := kubeconfig(ctx, t, in, "ad-api")
	for _, name := range []string{"coredns", "kube-proxy"} {
		a := waitAddon(ctx, t, sdk, "ad-api", name, func(a *types.Addon) bool {
			return a.Status == types.AddonStatusDegraded && addonHasIssue(a, types.AddonIssueCodeInsufficientNumberOfReplicas)
		})
		t.Logf("%s: %s, %s: %s", name, a.Status, a.Health.Issues[0].Code, aws.ToString(a.Health.Issues[0].Message))
	}

	t.Run("objects in the tenant cluster", func(t *testing.T) {
		for _, obj := range []string{"serviceaccount/coredns", "configmap/coredns", "deployment/coredns", "service/kube-dns",
			"serviceaccount/kube-proxy", "configmap/kube-proxy", "configmap/kube-proxy-config", "daemonset/kube-proxy"} {
			if _, err := kubectl(ctx, kc, "-n", "kube-system", "get", obj); err != nil {
				t.Error(err)
			}
		}
		for _, obj := range []string{"clusterrole/system:coredns", "clusterrolebinding/system:coredns", "clusterrolebinding/eks:kube-proxy"} {
			if _, err := kubectl(ctx, kc, "get", obj); err != nil {
				t.Error(err)
			}
		}
		ip := kubectlOut(ctx, t, kc, "-n", "kube-system", "get", "service/kube-dns", "-o", "jsonpath={.spec.clusterIP}")
		image := kubectlOut(ctx, t, kc, "-n", "kube-system", "get", "deployment/coredns", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
		managers := kubectlOut(ctx, t, kc, "-n", "kube-system", "get", "daemonset/kube-proxy", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}")
		if ip != "10.100.0.10" || !strings.HasPrefix(image, "cellplane.local/coredns:") || !strings.Contains(managers, "eks") {
			t.Fatalf("kube-dns %s, coredns image %s, kube-proxy managers %s", ip, image, managers)
		}
		// A deleted workload comes back at the cell's next health read.
		uid := kubectlOut(ctx, t, kc, "-n", "kube-system", "get", "daemonset/kube-proxy", "-o", "jsonpath={.metadata.uid}")
		kubectlOut(ctx, t, kc, "-n", "kube-system", "delete", "daemonset/kube-proxy")
		start := time.Now()
		waitFor(ctx, t, "kube-proxy to come back", func() error {
			out, err := kubectl(ctx, kc, "-n", "kube-system", "get", "daemonset/kube-proxy", "-o", "jsonpath={.metadata.uid}")
			if err != nil || strings.TrimSpace(out) == uid {
				return fmt.Errorf("kube-proxy not re-created: %v %s", err, out)
			}
			return nil
		})
		t.Logf("a deleted kube-proxy DaemonSet came back in %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("resolveConflicts", func(t *testing.T) {
		// Someone else takes the Deployment's replicas; the default add-on
		// resolves conflicts with NONE, so its resyncs leave them.
		if _, err := kubectl(ctx, kc, "-n", "kube-system", "patch", "deployment/coredns", "--type=merge", "--field-manager=e2e-edit",
			"-p", `{"spec":{"replicas":3}}`); err != nil {
			t.Fatal(err)
		}
		u := updateAddon(ctx, t, sdk, &awseks.UpdateAddonInput{ClusterName: api, AddonName: aws.String("coredns"), ResolveConflicts: types.ResolveConflictsNone})
		// An update runs: another update and a delete wait.
		_, err := sdk.UpdateAddon(ctx, &awseks.UpdateAddonInput{ClusterName: api, AddonName: aws.String("coredns")})
		wantCode(t, err, "ResourceInUseException")
		_, err = sdk.DeleteAddon(ctx, &awseks.DeleteAddonInput{ClusterName: api, AddonName: aws.String("coredns")})
		wantCode(t, err, "ResourceInUseException")
		done := waitUpdate(ctx, t, sdk, "ad-api", "coredns", u)
		if done.Status != types.UpdateStatusFailed || len(done.Errors) == 0 || done.Errors[0].ErrorCode != types.ErrorCode(types.AddonIssueCodeConfigurationConflict) {
			t.Fatalf("NONE against a conflict: %+v", done)
		}
		a := describeAddon(ctx, t, sdk, "ad-api", "coredns")
		if a.Status != types.AddonStatusDegraded || !addonHasIssue(a, types.AddonIssueCodeConfigurationConflict) {
			t.Fatalf("after a conflict: %s %+v", a.Status, a.Health)
		}
		if got := replicasOf(ctx, t, kc); got != "3" {
			t.Fatalf("NONE changed replicas to %s", got)
		}

		u = updateAddon(ctx, t, sdk, &awseks.UpdateAddonInput{ClusterName: api, AddonName: aws.String("coredns"), ResolveConflicts: types.ResolveConflictsOverwrite})
		if done := waitUpdate(ctx, t, sdk, "ad-api", "coredns", u); done.Status != types.UpdateStatusSuccessful {
			t.Fatalf("OVERWRITE: %+v", done)
		}
		if got := replicasOf(ctx, t, kc); got != "2" {
			t.Fatalf("OVERWRITE left replicas at %s", got)
		}

		// PRESERVE from now on: resyncs under OVERWRITE would undo the edit
		// below before the update that preserves it is applied.
		u = updateAddon(ctx, t, sdk, &awseks.UpdateAddonInput{ClusterName: api, AddonName: aws.String("coredns"), ResolveConflicts: types.ResolveConflictsPreserve})
		if done := waitUpdate(ctx, t, sdk, "ad-api", "coredns", u); done.Status != types.UpdateStatusSuccessful {
			t.Fatalf("PRESERVE: %+v", done)
		}
		// Someone else edits the Corefile; PRESERVE keeps it and applies the rest.
		if _, err := kubectl(ctx, kc, "-n", "kube-system", "patch", "configmap/coredns", "--type=merge", "--field-manager=e2e-edit",
			"-p", `{"data":{"Corefile":".:53 {\n    errors\n}\n"}}`); err != nil {
			t.Fatal(err)
		}
		u = updateAddon(ctx, t, sdk, &awseks.UpdateAddonInput{ClusterName: api, AddonName: aws.String("coredns"),
			ResolveConflicts: types.ResolveConflictsPreserve, ConfigurationValues: aws.String(`{"replicaCount":1}`)})
		if done := waitUpdate(ctx, t, sdk, "ad-api", "coredns", u); done.Status != types.UpdateStatusSuccessful {
			t.Fatalf("PRESERVE: %+v", done)
		}
		corefile := kubectlOut(ctx, t, kc, "-n", "kube-system", "get", "configmap/coredns", "-o", "jsonpath={.data.Corefile}")
		if strings.Contains(corefile, "kubernetes cluster.local") || replicasOf(ctx, t, kc) != "1" {
			t.Fatalf("PRESERVE: Corefile %q, replicas %s", corefile, replicasOf(ctx, t, kc))
		}
		if a := describeAddon(ctx, t, sdk, "ad-api", "coredns"); aws.ToString(a.ConfigurationValues) != `{"replicaCount":1}` {
			t.Fatalf("configurationValues %q", aws.ToString(a.ConfigurationValues))
		}

		ups, err := sdk.ListUpdates(ctx, &awseks.ListUpdatesInput{Name: api, AddonName: aws.String("coredns")})
		if err != nil || len(ups.UpdateIds) != 4 {
			t.Fatalf("coredns's updates %+v %v", ups, err)
		}
		own, err := sdk.ListUpdates(ctx, &awseks.ListUpdatesInput{Name: api})
		if err != nil || slices.ContainsFunc(own.UpdateIds, func(id string) bool { return slices.Contains(ups.UpdateIds, id) }) {
			t.Fatalf("the cluster's own updates list an add-on's: %+v %v", own, err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		out, err := sdk.DeleteAddon(ctx, &awseks.DeleteAddonInput{ClusterName: api, AddonName: aws.String("kube-proxy"), Preserve: true})
		if err != nil || out.Addon.Status != types.AddonStatusDeleting {
			t.Fatalf("DeleteAddon kube-proxy: %+v %v", out, err)
		}
		if _, err := sdk.DeleteAddon(ctx, &awseks.DeleteAddonInput{ClusterName: api, AddonName: aws.String("coredns")}); err != nil {
			t.Fatalf("DeleteAddon coredns: %v", err)
		}
		waitFor(ctx, t, "the add-ons to go", func() error {
			if got := listAddons(ctx, t, sdk, "ad-api"); len(got) != 0 {
				return fmt.Errorf("still listed: %v", got)
			}
			return nil
		})
		if _, err := kubectl(ctx, kc, "-n", "kube-system", "get", "daemonset/kube-proxy"); err != nil {
			t.Fatalf("preserve removed kube-proxy: %v", err)
		}
		for _, obj := range []string{"deployment/coredns", "service/kube-dns", "configmap/coredns"} {
			if out, err := kubectl(ctx, kc, "-n", "kube-system", "get", obj); err == nil || !strings.Contains(out, "NotFound") {
				t.Errorf("%s after DeleteAddon: %v %s", obj, err, out)
			}
		}
		// Created again, at a configuration of its own.
		if _, err := sdk.CreateAddon(ctx, &awseks.CreateAddonInput{ClusterName: api, AddonName: aws.String("coredns"),
			ConfigurationValues: aws.String(`{"replicaCount":1}`)}); err != nil {
			t.Fatalf("CreateAddon coredns again: %v", err)
		}
		waitAddon(ctx, t, sdk, "ad-api", "coredns", func(a *types.Addon) bool { return a.Status == types.AddonStatusDegraded })
		if got := replicasOf(ctx, t, kc); got != "1" {
			t.Fatalf("re-created coredns has %s replicas", got)
		}
	})
}

// TestAddonsSurviveKill kills cellplane (up and the cell, with SIGKILL)
// right after an UpdateAddon and right after a DeleteAddon, and starts it
// again: the update is applied and settles, and the delete removes the
// objects, whatever step the kill cut short.
func TestAddonsSurviveKill(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	in.Start(ctx)
	createActive(ctx, t, in, "ad-kill")
	sdk := sdkClient(t, in.DataDir)
	kc := kubeconfig(ctx, t, in, "ad-kill")
	waitAddon(ctx, t, sdk, "ad-kill", "coredns", func(a *types.Addon) bool { return a.Status == types.AddonStatusDegraded })

	u := updateAddon(ctx, t, sdk, &awseks.UpdateAddonInput{ClusterName: aws.String("ad-kill"), AddonName: aws.String("coredns"),
		ConfigurationValues: aws.String(`{"replicaCount":3}`)})
	killAll(t, in)
	in.Start(ctx)
	sdk = sdkClient(t, in.DataDir)
	if done := waitUpdate(ctx, t, sdk, "ad-kill", "coredns", u); done.Status != types.UpdateStatusSuccessful {
		t.Fatalf("the update after the kill: %+v", done)
	}
	if got := replicasOf(ctx, t, kc); got != "3" {
		t.Fatalf("replicas %s after the update and the kill", got)
	}

	if _, err := sdk.DeleteAddon(ctx, &awseks.DeleteAddonInput{ClusterName: aws.String("ad-kill"), AddonName: aws.String("coredns")}); err != nil {
		t.Fatal(err)
	}
	killAll(t, in)
	in.Start(ctx)
	sdk = sdkClient(t, in.DataDir)
	waitFor(ctx, t, "coredns to go", func() error {
		if got := listAddons(ctx, t, sdk, "ad-kill"); !slices.Equal(got, []string{"kube-proxy"}) {
			return fmt.Errorf("add-ons %v", got)
		}
		if out, err := kubectl(ctx, kc, "-n", "kube-system", "get", "deployment/coredns"); err == nil || !strings.Contains(out, "NotFound") {
			return fmt.Errorf("deployment/coredns still there: %v", err)
		}
		return nil
	})
}

func defaultVersion(addon, minor string) string {
	v, _ := addoncatalog.Default(addon, minor)
	return v.Version
}

func listAddons(ctx context.Context, t *testing.T, sdk *awseks.Client, cluster string) []string {
	t.Helper()
	out, err := sdk.ListAddons(ctx, &awseks.ListAddonsInput{ClusterName: aws.String(cluster)})
	if err != nil {
		t.Fatalf("ListAddons %s: %v", cluster, err)
	}
	return out.Addons
}

func describeAddon(ctx context.Context, t *testing.T, sdk *awseks.Client, cluster, name string) *types.Addon {
	t.Helper()
	out, err := sdk.DescribeAddon(ctx, &awseks.DescribeAddonInput{ClusterName: aws.String(cluster), AddonName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeAddon %s/%s: %v", cluster, name, err)
	}
	return out.Addon
}

func waitAddon(ctx context.Context, t *testing.T, sdk *awseks.Client, cluster, name string, ok func(*types.Addon) bool) *types.Addon {
	t.Helper()
	var last *types.Addon
	start := time.Now()
	err := framework.Eventually(ctx, 2*time.Minute, 250*time.Millisecond, func() error {
		out, err := sdk.DescribeAddon(ctx, &awseks.DescribeAddonInput{ClusterName: aws.String(cluster), AddonName: aws.String(name)})
		if err != nil {
			return err
		}
		if last = out.Addon; !ok(last) {
			return fmt.Errorf("add-on %s is %s %+v", name, last.Status, last.Health)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("waiting for add-on %s: %v", name, err)
	}
	t.Logf("add-on %s reached %s in %v", name, last.Status, time.Since(start).Round(time.Millisecond))
	return last
}

func addonHasIssue(a *types.Addon, code types.AddonIssueCode) bool {
	return a.Health != nil && slices.ContainsFunc(a.Health.Issues, func(i types.AddonIssue) bool { return i.Code == code })
}

func updateAddon(ctx context.Context, t *testing.T, sdk *awseks.Client, in *awseks.UpdateAddonInput) string {
	t.Helper()
	out, err := sdk.UpdateAddon(ctx, in)
	if err != nil {
		t.Fatalf("UpdateAddon %s: %v", aws.ToString(in.AddonName), err)
	}
	if out.Update.Type != types.UpdateTypeAddonUpdate || out.Update.Status != types.UpdateStatusInProgress {
		t.Fatalf("UpdateAddon's update %+v", out.Update)
	}
	return aws.ToString(out.Update.Id)
}

func waitUpdate(ctx context.Context, t *testing.T, sdk *awseks.Client, cluster, addon, id string) *types.Update {
	t.Helper()
	var last *types.Update
	err := framework.Eventually(ctx, time.Minute, 250*time.Millisecond, func() error {
		out, err := sdk.DescribeUpdate(ctx, &awseks.DescribeUpdateInput{Name: aws.String(cluster), UpdateId: aws.String(id), AddonName: aws.String(addon)})
		if err != nil {
			return err
		}
		if last = out.Update; last.Status == types.UpdateStatusInProgress {
			return fmt.Errorf("update %s in progress", id)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("waiting for update %s: %v", id, err)
	}
	return last
}

func replicasOf(ctx context.Context, t *testing.T, kc string) string {
	t.Helper()
	return kubectlOut(ctx, t, kc, "-n", "kube-system", "get", "deployment/coredns", "-o", "jsonpath={.spec.replicas}")
}

func kubectlOut(ctx context.Context, t *testing.T, kc string, args ...string) string {
	t.Helper()
	out, err := kubectl(ctx, kc, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if apiCode(err) != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func waitFor(ctx context.Context, t *testing.T, what string, f func() error) {
	t.Helper()
	if err := framework.Eventually(ctx, 2*time.Minute, 250*time.Millisecond, f); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
