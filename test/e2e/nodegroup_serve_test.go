package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/cellplane/cellplane/internal/nodes/images"
	"github.com/cellplane/cellplane/test/framework"
)

// Helpers of TestKubeletNodegroup for what real nodes serve: Services
// across nodes, port-forward, and a drain a budget guards.

func waitAddonActive(ctx context.Context, t *testing.T, sdk *awseks.Client, cluster, name string) {
	t.Helper()
	waitAddon(ctx, t, sdk, cluster, name, func(a *types.Addon) bool { return a.Status == types.AddonStatusActive })
}

// serviceAcrossNodes puts the web Deployment behind a Service and a client
// pod on node; the client GETs the Service by DNS name and by ClusterIP
// (kubectl exec runs the web server image's client). It returns the client
// pod's IP.
func serviceAcrossNodes(ctx context.Context, t *testing.T, kc string, kube kubernetes.Interface, webPod, node string) string {
	t.Helper()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
	svc, err := kube.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	client := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: "default"}, Spec: corev1.PodSpec{
		NodeName: node, AutomountServiceAccountToken: aws.Bool(false),
		Containers: []corev1.Container{{Name: "client", Image: images.WebServer.Ref, ImagePullPolicy: corev1.PullNever}}}}
	if _, err := kube.CoreV1().Pods("default").Create(ctx, client, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ip string
	err = framework.Eventually(ctx, 2*time.Minute, time.Second, func() error {
		p, err := kube.CoreV1().Pods("default").Get(ctx, "client", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			return fmt.Errorf("client pod is %s", p.Status.Phase)
		}
		ip = p.Status.PodIP
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{"http://web.default.svc.cluster.local/by-name", "http://" + svc.Spec.ClusterIP + "/by-clusterip"} {
		start := time.Now()
		err := framework.Eventually(ctx, 2*time.Minute, 2*time.Second, func() error {
			out, err := kubectl(ctx, kc, "exec", "client", "--", "/webserver", "get", url)
			if err != nil {
				return err
			}
			if !strings.Contains(out, "hello from "+webPod) {
				return fmt.Errorf("GET %s: %q", url, out)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("the client pod on %s reaches the web Service: %v", node, err)
		}
		t.Logf("client pod on %s got %s from %s in %s", node, url, webPod, time.Since(start).Round(100*time.Millisecond))
	}
	return ip
}

var forwardingRE = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 8080`)

// portForward runs kubectl port-forward to the pod and GETs through it.
func portForward(ctx context.Context, t *testing.T, kc, pod string) {
	t.Helper()
	cache := "--cache-dir=" + filepath.Join(filepath.Dir(kc), "kube-cache")
	cmd := exec.CommandContext(ctx, bins.Tools.Kubectl, "--kubeconfig", kc, cache, "port-forward", "--address=127.0.0.1", "pod/"+pod, ":8080")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill() // the kubectl this test started, by its PID
		_ = cmd.Wait()
	}()
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := forwardingRE.FindStringSubmatch(sc.Text()); m != nil {
				port <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	var p string
	select {
	case p = <-port:
	case <-time.After(30 * time.Second):
		t.Fatal("kubectl port-forward printed no port within 30s")
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get("http://127.0.0.1:" + p + "/by-port-forward")
	if err != nil {
		t.Fatalf("GET through port-forward: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "hello from "+pod) {
		t.Fatalf("GET through port-forward: %q", body)
	}
	t.Logf("port-forward to %s answered %q", pod, strings.TrimSpace(string(body)))
}

// clusterNetworks lists the host's cluster network namespaces.
func clusterNetworks(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir("/run/netns")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "cellplane-net-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// scaleTo sets the group's desired size, waits for it to be ACTIVE with
// that many Ready nodes, and returns the update's ID.
func scaleTo(ctx context.Context, t *testing.T, sdk *awseks.Client, dataDir string, kube kubernetes.Interface, cluster, group string, n int32) *string {
	t.Helper()
	start := time.Now()
	up, err := sdk.UpdateNodegroupConfig(ctx, &awseks.UpdateNodegroupConfigInput{ClusterName: aws.String(cluster), NodegroupName: aws.String(group),
		ScalingConfig: &types.NodegroupScalingConfig{DesiredSize: aws.Int32(n)}})
	if err != nil {
		t.Fatalf("UpdateNodegroupConfig to %d: %v", n, err)
	}
	err = framework.Eventually(ctx, 4*time.Minute, time.Second, func() error {
		upd, err := sdk.DescribeUpdate(ctx, &awseks.DescribeUpdateInput{Name: aws.String(cluster), NodegroupName: aws.String(group), UpdateId: up.Update.Id})
		if err != nil {
			return err
		}
		if upd.Update.Status != types.UpdateStatusSuccessful {
			return fmt.Errorf("update to %d nodes is %s", n, upd.Update.Status)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitNodegroupOrLog(ctx, t, sdk, dataDir, cluster, group)
	if got := len(readyNodes(ctx, t, kube, "pool=kubelet")); got != int(n) {
		t.Fatalf("%d Ready nodes after scaling to %d", got, n)
	}
	t.Logf("scaled to %d nodes in %s", n, time.Since(start).Round(100*time.Millisecond))
	return up.Update.Id
}

// guardedDeployment runs three ready-probed web servers, one per node, with
// a PodDisruptionBudget of one unavailable pod.
func guardedDeployment(ctx context.Context, t *testing.T, kube kubernetes.Interface) {
	t.Helper()
	labels := map[string]string{"app": "guarded"}
	// Cordoned nodes (tainted unschedulable) leave the spread's domains,
	// so an evicted pod can go to the nodes that stay.
	spread := []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.DoNotSchedule,
		NodeTaintsPolicy: ptrTo(corev1.NodeInclusionPolicyHonor), LabelSelector: &metav1.LabelSelector{MatchLabels: labels}}}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "guarded", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: aws.Int32(3), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				TopologySpreadConstraints: spread, AutomountServiceAccountToken: aws.Bool(false),
				Containers: []corev1.Container{{Name: "web", Image: images.WebServer.Ref, ImagePullPolicy: corev1.PullNever,
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}},
						PeriodSeconds: 1}}}}}}}
	if _, err := kube.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "guarded", Namespace: "default"},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptrTo(intstr.FromInt32(1)), Selector: &metav1.LabelSelector{MatchLabels: labels}}}
	if _, err := kube.PolicyV1().PodDisruptionBudgets("default").Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := framework.Eventually(ctx, 3*time.Minute, time.Second, func() error {
		l, err := kube.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=guarded"})
		if err != nil {
			return err
		}
		on := map[string]bool{}
		for i := range l.Items {
			if podReady(&l.Items[i]) {
				on[l.Items[i].Spec.NodeName] = true
			}
		}
		if len(on) != 3 {
			return fmt.Errorf("guarded pods Ready on %d nodes, want 3", len(on))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
