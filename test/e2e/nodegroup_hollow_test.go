package e2e

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cellplane/cellplane/test/framework"
)

// TestHollowNodegroup drives a CELLPLANE_HOLLOW managed node group through
// the aws-sdk-go-v2 EKS client: 20 kubemark nodes over three zones become
// Ready, a Deployment of 200 pods runs on them, a scale-down to 10 drains
// the removed nodes through the eviction API without breaking a
// PodDisruptionBudget, bad input is refused with EKS's errors, and
// DeleteNodegroup leaves no process, file or Node behind.
func TestHollowNodegroup(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	sdk := sdkClient(t, in.DataDir)
	const cluster, group = "ng-hollow", "workers"
	_, err := sdk.CreateCluster(ctx, &awseks.CreateClusterInput{Name: aws.String(cluster), RoleArn: aws.String("arn:aws:iam::000000000000:role/eks"),
		ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-a"}}})
	if err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	waitActive(ctx, t, sdk, cluster)
	kube := kubeClient(t, kubeconfig(ctx, t, in, cluster))
	// The cluster is deleted after the test only once its node groups are.
	t.Cleanup(func() { deleteNodegroupAndWait(context.Background(), t, sdk, cluster, group) })

	start := time.Now()
	_, err = sdk.CreateNodegroup(ctx, &awseks.CreateNodegroupInput{
		ClusterName: aws.String(cluster), NodegroupName: aws.String(group), AmiType: types.AMITypes("CELLPLANE_HOLLOW"),
		Subnets: []string{"subnet-a", "subnet-b", "subnet-c"}, NodeRole: aws.String("arn:aws:iam::000000000000:role/node"),
		ScalingConfig: &types.NodegroupScalingConfig{MinSize: aws.Int32(1), MaxSize: aws.Int32(25), DesiredSize: aws.Int32(20)},
		Labels:        map[string]string{"pool": "hollow"},
	})
	if err != nil {
		t.Fatalf("CreateNodegroup: %v", err)
	}
	ng := waitNodegroup(ctx, t, sdk, cluster, group, types.NodegroupStatusActive)
	t.Logf("20 hollow nodes Ready in %s", time.Since(start).Round(time.Second))
	nodes := readyNodes(ctx, t, kube, "pool=hollow")
	zones := map[string]int{}
	for _, n := range nodes {
		zones[n.Labels["topology.kubernetes.io/zone"]]++
	}
	if len(nodes) != 20 || len(zones) != 3 || aws.ToInt32(ng.ScalingConfig.DesiredSize) != 20 {
		t.Fatalf("%d Ready nodes over zones %v, group %+v", len(nodes), zones, ng)
	}

	t.Run("errors", func(t *testing.T) { nodegroupErrors(ctx, t, sdk, cluster, group) })

	// 200 pods of a Deployment run on the hollow nodes.
	start = time.Now()
	createDeployment(ctx, t, kube, "web", 200, nil)
	waitRunning(ctx, t, kube, "app=web", 200)
	t.Logf("200 pods Running in %s", time.Since(start).Round(time.Second))

	t.Run("scale down respects a PodDisruptionBudget", func(t *testing.T) { scaleDownWithPDB(ctx, t, sdk, kube, cluster, group) })

	dir := nodegroupDir(t, in.DataDir)
	deleteNodegroupAndWait(ctx, t, sdk, cluster, group)
	if left := readyNodes(ctx, t, kube, "pool=hollow"); len(left) != 0 {
		t.Fatalf("%d Nodes left after DeleteNodegroup", len(left))
	}
	if procs := processesMentioning(dir); len(procs) != 0 {
		t.Fatalf("processes left after DeleteNodegroup: %v", procs)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("node group files left in %s: %v", dir, err)
	}
}

// nodegroupErrors checks the refusals, each of which must change nothing.
func nodegroupErrors(ctx context.Context, t *testing.T, sdk *awseks.Client, cluster, group string) {
	c, g := aws.String(cluster), aws.String(group)
	base := func(name string, min, max, desired int32) *awseks.CreateNodegroupInput {
		return &awseks.CreateNodegroupInput{ClusterName: c, NodegroupName: aws.String(name), AmiType: types.AMITypes("CELLPLANE_HOLLOW"),
			Subnets: []string{"a"}, NodeRole: aws.String("arn:aws:iam::000000000000:role/node"),
			ScalingConfig: &types.NodegroupScalingConfig{MinSize: aws.Int32(min), MaxSize: aws.Int32(max), DesiredSize: aws.Int32(desired)}}
	}
	badLabel := base("labelled", 1, 2, 1)
	badLabel.Labels = map[string]string{"bad key": "x"}
	badTaint := base("tainted", 1, 2, 1)
	badTaint.Taints = []types.Taint{{Key: aws.String("k"), Effect: types.TaintEffect("Sometimes")}}
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"min over max", func() error { _, err := sdk.CreateNodegroup(ctx, base("x", 3, 2, 2)); return err }, "InvalidParameterException"},
		{"desired over max", func() error { _, err := sdk.CreateNodegroup(ctx, base("x", 1, 2, 3)); return err }, "InvalidParameterException"},
		{"bad label", func() error { _, err := sdk.CreateNodegroup(ctx, badLabel); return err }, "InvalidParameterException"},
		{"bad taint", func() error { _, err := sdk.CreateNodegroup(ctx, badTaint); return err }, "InvalidParameterException"},
		{"bad name", func() error { _, err := sdk.CreateNodegroup(ctx, base("_x", 1, 2, 1)); return err }, "InvalidParameterException"},
		{"duplicate", func() error { _, err := sdk.CreateNodegroup(ctx, base(group, 1, 2, 1)); return err }, "ResourceInUseException"},
		{"unknown describe", func() error {
			_, err := sdk.DescribeNodegroup(ctx, &awseks.DescribeNodegroupInput{ClusterName: c, NodegroupName: aws.String("nope")})
			return err
		}, "ResourceNotFoundException"},
		{"unknown delete", func() error {
			_, err := sdk.DeleteNodegroup(ctx, &awseks.DeleteNodegroupInput{ClusterName: c, NodegroupName: aws.String("nope")})
			return err
		}, "ResourceNotFoundException"},
		{"update desired outside", func() error {
			_, err := sdk.UpdateNodegroupConfig(ctx, &awseks.UpdateNodegroupConfigInput{ClusterName: c, NodegroupName: g,
				ScalingConfig: &types.NodegroupScalingConfig{DesiredSize: aws.Int32(30)}})
			return err
		}, "InvalidParameterException"},
		{"delete cluster with node groups", func() error {
			_, err := sdk.DeleteCluster(ctx, &awseks.DeleteClusterInput{Name: c})
			return err
		}, "ResourceInUseException"},
	} {
		var apiErr smithy.APIError
		if err := tc.call(); !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.want {
			t.Errorf("%s: got %v, want %s", tc.name, err, tc.want)
		}
	}
	list, err := sdk.ListNodegroups(ctx, &awseks.ListNodegroupsInput{ClusterName: c})
	if err != nil || len(list.Nodegroups) != 1 || list.Nodegroups[0] != group {
		t.Fatalf("ListNodegroups after refusals: %v %v", list, err)
	}
	ng, err := sdk.DescribeNodegroup(ctx, &awseks.DescribeNodegroupInput{ClusterName: c, NodegroupName: g})
	if err != nil || ng.Nodegroup.Status != types.NodegroupStatusActive || aws.ToInt32(ng.Nodegroup.ScalingConfig.DesiredSize) != 20 {
		t.Fatalf("group after refusals: %+v %v", ng, err)
	}
}

// scaleDownWithPDB scales the group from 20 nodes to 10 while a Deployment
// guarded by a PodDisruptionBudget (at most one pod down) prefers the nodes
// that go: it counts, from a watch, the guarded pods that are Ready at every
// moment, and the drain must never take it under the budget.
func scaleDownWithPDB(ctx context.Context, t *testing.T, sdk *awseks.Client, kube kubernetes.Interface, cluster, group string) {
	var leaving []string
	for i := 10; i < 20; i++ {
		leaving = append(leaving, fmt.Sprintf("%s-%s-%d", group, []string{"a", "b", "c"}[i%3], i/3))
	}
	prefer := &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
		Weight: 100, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{
			Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: leaving}}}}}}}
	createDeployment(ctx, t, kube, "guarded", 5, prefer)
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "guarded", Namespace: "default"},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptrTo(intstr.FromInt32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guarded"}}}}
	if _, err := kube.PolicyV1().PodDisruptionBudgets("default").Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRunning(ctx, t, kube, "app=guarded", 5)
	onLeaving := 0
	pods, err := kube.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=guarded"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if strings.Contains(strings.Join(leaving, ","), p.Spec.NodeName) {
			onLeaving++
		}
	}
	if onLeaving < 2 {
		t.Fatalf("only %d guarded pods on the nodes that go: the budget would not be tested", onLeaving)
	}
	w := watchReady(ctx, t, kube, "app=guarded")
	up, err := sdk.UpdateNodegroupConfig(ctx, &awseks.UpdateNodegroupConfigInput{ClusterName: aws.String(cluster), NodegroupName: aws.String(group),
		ScalingConfig: &types.NodegroupScalingConfig{DesiredSize: aws.Int32(10)}})
	if err != nil {
		t.Fatalf("UpdateNodegroupConfig: %v", err)
	}
	if _, err := sdk.DeleteNodegroup(ctx, &awseks.DeleteNodegroupInput{ClusterName: aws.String(cluster), NodegroupName: aws.String(group)}); !isCode(err, "ResourceInUseException") {
		t.Errorf("DeleteNodegroup during an update: %v, want ResourceInUseException", err)
	}
	waitNodegroup(ctx, t, sdk, cluster, group, types.NodegroupStatusActive)
	upd, err := sdk.DescribeUpdate(ctx, &awseks.DescribeUpdateInput{Name: aws.String(cluster), NodegroupName: aws.String(group), UpdateId: up.Update.Id})
	if err != nil || upd.Update.Status != types.UpdateStatusSuccessful {
		t.Fatalf("update after scale-down: %+v %v", upd, err)
	}
	if n := len(readyNodes(ctx, t, kube, "pool=hollow")); n != 10 {
		t.Fatalf("%d Ready nodes after scaling to 10", n)
	}
	waitRunning(ctx, t, kube, "app=guarded", 5)
	waitRunning(ctx, t, kube, "app=web", 200)
	least := w.stop()
	if least < 4 {
		t.Fatalf("the drain took the guarded Deployment down to %d Ready pods; its budget allows 4", least)
	}
	t.Logf("%d of 5 guarded pods were on nodes that went; at least %d stayed Ready throughout", onLeaving, least)
}

// readyWatch follows the Ready pods of a selector and keeps the least seen.
type readyWatch struct {
	mu    sync.Mutex
	least int
	stop  func() int
}

func watchReady(ctx context.Context, t *testing.T, kube kubernetes.Interface, selector string) *readyWatch {
	t.Helper()
	// The count starts from a list, and the watch follows from its
	// revision: counted from the watch's first events it would start at 1.
	l, err := kube.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	ready := map[string]bool{}
	for i := range l.Items {
		ready[l.Items[i].Name] = l.Items[i].DeletionTimestamp == nil && podReady(&l.Items[i])
	}
	wi, err := kube.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: l.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	w := &readyWatch{least: countTrue(ready)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range wi.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			ready[p.Name] = ev.Type != "DELETED" && p.DeletionTimestamp == nil && podReady(p)
			n := countTrue(ready)
			w.mu.Lock()
			w.least = min(w.least, n)
			w.mu.Unlock()
		}
	}()
	w.stop = func() int {
		wi.Stop()
		<-done
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.least
	}
	return w
}

func countTrue(m map[string]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func ptrTo[T any](v T) *T { return &v }

func isCode(err error, code string) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == code
}

func kubeClient(t *testing.T, path string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func waitNodegroup(ctx context.Context, t *testing.T, sdk *awseks.Client, cluster, group string, want types.NodegroupStatus) *types.Nodegroup {
	t.Helper()
	var ng *types.Nodegroup
	err := framework.Eventually(ctx, 4*time.Minute, time.Second, func() error {
		out, err := sdk.DescribeNodegroup(ctx, &awseks.DescribeNodegroupInput{ClusterName: aws.String(cluster), NodegroupName: aws.String(group)})
		if err != nil {
			return err
		}
		ng = out.Nodegroup
		if ng.Status != want {
			var issues []string
			for _, is := range ng.Health.Issues {
				issues = append(issues, fmt.Sprintf("%s: %s %v", is.Code, aws.ToString(is.Message), is.ResourceIds))
			}
			return fmt.Errorf("node group %s is %s (issues %v)", group, ng.Status, issues)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("waiting for node group %s to be %s: %v", group, want, err)
	}
	return ng
}

func deleteNodegroupAndWait(ctx context.Context, t *testing.T, sdk *awseks.Client, cluster, group string) {
	t.Helper()
	err := framework.Eventually(ctx, 3*time.Minute, time.Second, func() error {
		_, err := sdk.DeleteNodegroup(ctx, &awseks.DeleteNodegroupInput{ClusterName: aws.String(cluster), NodegroupName: aws.String(group)})
		switch {
		case isCode(err, "ResourceNotFoundException"):
			return nil
		case err != nil:
			return err
		}
		return fmt.Errorf("node group %s still deleting", group)
	})
	if err != nil {
		t.Errorf("deleting node group %s: %v", group, err)
	}
}

func readyNodes(ctx context.Context, t *testing.T, kube kubernetes.Interface, selector string) []corev1.Node {
	t.Helper()
	l, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Node
	for _, n := range l.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				out = append(out, n)
			}
		}
	}
	return out
}

func createDeployment(ctx context.Context, t *testing.T, kube kubernetes.Interface, name string, replicas int32, aff *corev1.Affinity) {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Affinity: aff, Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}}}}}
	if _, err := kube.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating deployment %s: %v", name, err)
	}
}

func waitRunning(ctx context.Context, t *testing.T, kube kubernetes.Interface, selector string, want int) {
	t.Helper()
	err := framework.Eventually(ctx, 3*time.Minute, time.Second, func() error {
		l, err := kube.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		n := 0
		for _, p := range l.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				n++
			}
		}
		if n != want {
			return fmt.Errorf("%d of %d pods %s Running", n, want, selector)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// nodegroupDir is the directory the shared instance's cell keeps the one
// node group's nodes in.
func nodegroupDir(t *testing.T, dataDir string) string {
	t.Helper()
	var found []string
	_ = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && filepath.Base(filepath.Dir(path)) == "nodegroups" {
			found = append(found, path)
			return filepath.SkipDir
		}
		return nil
	})
	if len(found) != 1 {
		t.Fatalf("node group directories %v", found)
	}
	return found[0]
}
