package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	appsv1 "k8s.io/api/apps/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/nodes/images"
	"github.com/cellplane/cellplane/internal/nodes/nodeaddr"
	"github.com/cellplane/cellplane/test/framework"
)

// TestKubeletNodegroup is issue 14's first "Done when", driven through the
// aws-sdk-go-v2 EKS client: a cluster with its default add-ons gets a
// CELLPLANE_KUBELET node group; two real machines in the cluster's two
// zones join by TLS bootstrap and become Ready; the cell approves their
// serving certificates (signed by the cluster CA) and denies one asked for
// a name outside the node groups; CoreDNS and kube-proxy become ACTIVE; a
// pod on one node reaches a web server's Service on the other by DNS name
// and ClusterIP; `kubectl logs`, `exec` and `port-forward` work through
// the endpoint; scaling to three nodes and back to one cordons and drains
// through the eviction API with a PodDisruptionBudget respected; and
// DeleteNodegroup leaves no process, namespace, cgroup, mount, address
// claim, cluster network or file.
func TestKubeletNodegroup(t *testing.T) {
	ctx := ctxFor(t)
	// The kubelet is a cache entry of its own; build it here, where a
	// failure says so, rather than inside the cell.
	if _, err := components.New(components.Config{Progress: os.Stderr}).Node(ctx, components.Default()); err != nil {
		t.Fatal(err)
	}
	in := framework.Shared(ctx, t, bins)
	sdk := sdkClient(t, in.DataDir)
	const cluster, group = "ng-kubelet", "real"
	_, err := sdk.CreateCluster(ctx, &awseks.CreateClusterInput{Name: aws.String(cluster), RoleArn: aws.String("arn:aws:iam::000000000000:role/eks"),
		ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-a", "subnet-b"}}})
	if err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	waitActive(ctx, t, sdk, cluster)
	kc := kubeconfig(ctx, t, in, cluster)
	kube, ca := clientsetOf(t, kc)
	t.Cleanup(func() { deleteNodegroupAndWait(context.Background(), t, sdk, cluster, group) })

	start := time.Now()
	_, err = sdk.CreateNodegroup(ctx, &awseks.CreateNodegroupInput{
		ClusterName: aws.String(cluster), NodegroupName: aws.String(group), AmiType: types.AMITypes("CELLPLANE_KUBELET"),
		Subnets: []string{"subnet-a", "subnet-b"}, NodeRole: aws.String("arn:aws:iam::000000000000:role/node"),
		ScalingConfig: &types.NodegroupScalingConfig{MinSize: aws.Int32(1), MaxSize: aws.Int32(3), DesiredSize: aws.Int32(2)},
		Labels:        map[string]string{"pool": "kubelet"},
	})
	if err != nil {
		t.Fatalf("CreateNodegroup: %v", err)
	}
	waitNodegroupOrLog(ctx, t, sdk, in.DataDir, cluster, group)
	t.Logf("2 real nodes Ready, group ACTIVE, %s after CreateNodegroup", time.Since(start).Round(100*time.Millisecond))
	nodes := readyNodes(ctx, t, kube, "pool=kubelet")
	byZone := map[string]string{}
	for _, n := range nodes {
		byZone[n.Labels["topology.kubernetes.io/zone"]] = n.Name
	}
	if len(nodes) != 2 || len(byZone) != 2 || byZone["a"] == "" || byZone["b"] == "" {
		t.Fatalf("%d Ready nodes by zone %v: want one in a and one in b", len(nodes), byZone)
	}
	names := []string{byZone["a"], byZone["b"]}
	dir := groupDirOf(t, in.DataDir, names[0])

	// Each node's serving certificate was approved by the cell and issued
	// by the cluster CA.
	for _, n := range names {
		servingApproved(ctx, t, kube, n, ca)
	}

	t.Run("a serving certificate for a stranger is denied", func(t *testing.T) { intruderDenied(ctx, t, kc, kube) })

	for _, a := range []string{"coredns", "kube-proxy"} {
		waitAddonActive(ctx, t, sdk, cluster, a)
	}
	t.Logf("coredns and kube-proxy add-ons ACTIVE %s after CreateNodegroup", time.Since(start).Round(100*time.Millisecond))

	// The web server runs on the node that will go, behind a Service; a
	// client pod on the other node reaches it by DNS name and ClusterIP,
	// and `kubectl logs`, `exec` and `port-forward` reach it through the
	// endpoint: the API server verifies the kubelet's serving certificate.
	leaving, staying := byZone["b"], byZone["a"]
	webDeployment(ctx, t, kube, leaving)
	pod := runningWeb(ctx, t, kube, "")
	if pod.Spec.NodeName != leaving {
		t.Fatalf("web pod on %s, want %s (preferred)", pod.Spec.NodeName, leaving)
	}
	clientIP := serviceAcrossNodes(ctx, t, kc, kube, pod.Name, staying)
	logsAndExec(ctx, t, kc, pod.Name)
	logs := kubectlOut(ctx, t, kc, "logs", pod.Name)
	for _, path := range []string{`"/by-name"`, `"/by-clusterip"`} {
		if !strings.Contains(logs, path) {
			t.Errorf("web server's log lacks the request %s: %q", path, logs)
		}
	}
	if !strings.Contains(logs, " from "+clientIP+":") {
		t.Errorf("web server's log shows no request from the client pod's address %s, so it was not routed pod to pod: %q", clientIP, logs)
	}
	portForward(ctx, t, kc, pod.Name)
	networks := clusterNetworks(t)
	if len(networks) == 0 {
		t.Fatal("no cluster network namespace while real nodes run")
	}

	// Three nodes, a guarded Deployment spread over them, and back to one:
	// the drain of two nodes goes through the eviction API, so the budget
	// of one unavailable pod holds throughout; the web pod moves.
	scaleTo(ctx, t, sdk, in.DataDir, kube, cluster, group, 3)
	third := ""
	for _, n := range readyNodes(ctx, t, kube, "pool=kubelet") {
		if n.Name != leaving && n.Name != staying {
			third = n.Name
		}
	}
	guardedDeployment(ctx, t, kube)
	machines := map[string]machineTrace{leaving: traceMachine(t, dir, leaving, 7), staying: traceMachine(t, dir, staying, 4), third: traceMachine(t, dir, third, 4)}
	var cordoned atomic.Bool
	stopWatch := watchCordon(ctx, t, kube, leaving, &cordoned)
	guarded := watchReady(ctx, t, kube, "app=guarded")
	start = time.Now()
	up := scaleTo(ctx, t, sdk, in.DataDir, kube, cluster, group, 1)
	err = framework.Eventually(ctx, 3*time.Minute, time.Second, func() error {
		upd, err := sdk.DescribeUpdate(ctx, &awseks.DescribeUpdateInput{Name: aws.String(cluster), NodegroupName: aws.String(group), UpdateId: up})
		if err != nil {
			return err
		}
		if upd.Update.Status != types.UpdateStatusSuccessful {
			return fmt.Errorf("update %s is %s", aws.ToString(up), upd.Update.Status)
		}
		for _, n := range []string{leaving, third} {
			if _, err := kube.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{}); err == nil {
				return fmt.Errorf("node %s still registered", n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stopWatch()
	if !cordoned.Load() {
		t.Errorf("node %s went without being cordoned", leaving)
	}
	waitRunning(ctx, t, kube, "app=guarded", 3)
	if least := guarded.stop(); least < 2 {
		t.Errorf("the drain took the guarded Deployment down to %d Ready pods; its budget allows 2", least)
	} else {
		t.Logf("at least %d of 3 guarded pods stayed Ready while 2 nodes drained", least)
	}
	moved := runningWeb(ctx, t, kube, staying)
	t.Logf("scaled 3 to 1 (update Successful, nodes deleted) in %s; web pod moved from %s to %s", time.Since(start).Round(100*time.Millisecond), leaving, moved.Spec.NodeName)
	logsAndExec(ctx, t, kc, moved.Name)
	machines[leaving].assertGone(t)
	machines[third].assertGone(t)

	deleteNodegroupAndWait(ctx, t, sdk, cluster, group)
	if left := readyNodes(ctx, t, kube, "pool=kubelet"); len(left) != 0 {
		t.Fatalf("%d Nodes left after DeleteNodegroup", len(left))
	}
	machines[staying].assertGone(t)
	for _, n := range networks {
		if _, err := os.Stat(filepath.Join("/run/netns", n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cluster network %s left after its last node group: %v", n, err)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("node group files left in %s: %v", dir, err)
	}
	if procs := processesMentioning(dir); len(procs) != 0 {
		t.Fatalf("processes left after DeleteNodegroup: %v", procs)
	}
}

// waitNodegroupOrLog waits for ACTIVE and shows the machines' logs if the
// group does not get there.
func waitNodegroupOrLog(ctx context.Context, t *testing.T, sdk *awseks.Client, dataDir, cluster, group string) {
	t.Helper()
	ok := false
	defer func() {
		if !ok {
			_ = filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() && d.Name() == "machine" {
					logMachine(t, p)
					if b, err := os.ReadFile(filepath.Join(filepath.Dir(p), "machine.log")); err == nil {
						t.Logf("%s:\n%s", filepath.Join(filepath.Dir(p), "machine.log"), tail(b, 4000))
					}
				}
				return nil
			})
		}
	}()
	waitNodegroup(ctx, t, sdk, cluster, group, types.NodegroupStatusActive)
	ok = true
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// groupDirOf is the node group directory holding node.
func groupDirOf(t *testing.T, dataDir, node string) string {
	t.Helper()
	var found string
	_ = filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == node && filepath.Base(filepath.Dir(filepath.Dir(p))) == "nodegroups" {
			found = filepath.Dir(p)
			return filepath.SkipAll
		}
		return nil
	})
	if found == "" {
		t.Fatalf("no directory of node %s under %s", node, dataDir)
	}
	return found
}

// machineTrace is what a real node runs and holds, seen while it runs.
type machineTrace struct {
	name, dir string
	pids      []int
	claim     int
}

// traceMachine records the node's runner process and every process in its
// machine's cgroups, and its address claim.
func traceMachine(t *testing.T, groupDir, name string, least int) machineTrace {
	t.Helper()
	m := machineTrace{name: name, dir: filepath.Join(groupDir, name)}
	b, err := os.ReadFile(filepath.Join(m.dir, "machine.pid"))
	if err != nil {
		t.Fatalf("node %s: %v", name, err)
	}
	var pf struct{ PID int }
	if err := json.Unmarshal(b, &pf); err != nil || pf.PID == 0 {
		t.Fatalf("node %s pid file %q: %v", name, b, err)
	}
	m.pids = append(m.pids, pf.PID)
	_ = filepath.WalkDir(filepath.Join("/sys/fs/cgroup/pids/cellplane-nodes", name), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		data, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				m.pids = append(m.pids, pid)
			}
		}
		return nil
	})
	if len(m.pids) < least {
		t.Errorf("node %s runs %v: want at least %d processes (the runner, holder, containerd, kubelet, and a pod's shim, sandbox and server)", name, m.pids, least)
	}
	b, err = os.ReadFile(filepath.Join(m.dir, "address"))
	if err != nil {
		t.Fatalf("node %s: %v", name, err)
	}
	m.claim, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	owner, err := os.ReadFile(filepath.Join(nodeaddr.DefaultDir, strconv.Itoa(m.claim)))
	if err != nil || strings.TrimSpace(string(owner)) != name {
		t.Errorf("address claim %d of node %s: %q, %v", m.claim, name, owner, err)
	}
	return m
}

// assertGone checks that the node left nothing: no process, network
// namespace, cgroup, mount, address claim or file.
func (m machineTrace) assertGone(t *testing.T) {
	t.Helper()
	for _, pid := range m.pids {
		if alive(pid) {
			t.Errorf("process %d of node %s outlived it", pid, m.name)
		}
	}
	if _, err := os.Stat("/run/netns/cellplane-node-" + m.name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("network namespace of %s left: %v", m.name, err)
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/pids/cellplane-nodes", m.name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup of %s left: %v", m.name, err)
	}
	if _, err := os.Stat(m.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory %s left: %v", m.dir, err)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), m.dir) || strings.Contains(string(mounts), "cellplane-node-"+m.name) {
		t.Errorf("mounts of node %s left:\n%s", m.name, mounts)
	}
	if owner, err := os.ReadFile(filepath.Join(nodeaddr.DefaultDir, strconv.Itoa(m.claim))); err == nil && strings.TrimSpace(string(owner)) == m.name {
		t.Errorf("address claim %d of node %s not released", m.claim, m.name)
	}
}

// servingApproved waits for node's kubelet-serving CSR to be approved with
// the cell's reason and issued, and checks the certificate chains to the
// cluster CA.
func servingApproved(ctx context.Context, t *testing.T, kube kubernetes.Interface, node string, caPEM []byte) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	err := framework.Eventually(ctx, time.Minute, time.Second, func() error {
		l, err := kube.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, csr := range l.Items {
			if csr.Spec.SignerName != certificatesv1.KubeletServingSignerName || csr.Spec.Username != "system:node:"+node {
				continue
			}
			approved := slices.ContainsFunc(csr.Status.Conditions, func(c certificatesv1.CertificateSigningRequestCondition) bool {
				return c.Type == certificatesv1.CertificateApproved && c.Reason == "CellplaneNodeCheckPassed"
			})
			if !approved || len(csr.Status.Certificate) == 0 {
				continue
			}
			block, _ := pem.Decode(csr.Status.Certificate)
			if block == nil {
				return framework.Permanent(fmt.Errorf("CSR %s: certificate is not PEM", csr.Name))
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return framework.Permanent(err)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				return framework.Permanent(fmt.Errorf("serving certificate of %s: %w", node, err))
			}
			return nil
		}
		return fmt.Errorf("no issued serving certificate approved by the cell for %s", node)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// intruderDenied asks, as a node that is in no node group, for a serving
// certificate: the cell must deny it.
func intruderDenied(ctx context.Context, t *testing.T, kc string, kube kubernetes.Interface) {
	rc, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	rc.Impersonate = rest.ImpersonationConfig{UserName: "system:node:intruder", Groups: []string{"system:nodes", "system:authenticated"}}
	as, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "system:node:intruder", Organization: []string{"system:nodes"}},
		DNSNames: []string{"intruder"}, IPAddresses: []net.IP{net.ParseIP("10.250.1.249")},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "intruder-serving"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certificatesv1.KubeletServingSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
		},
	}
	if _, err := as.CertificatesV1().CertificateSigningRequests().Create(ctx, csr, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the intruder's CSR: %v", err)
	}
	start := time.Now()
	err = framework.Eventually(ctx, 30*time.Second, time.Second, func() error {
		got, err := kube.CertificatesV1().CertificateSigningRequests().Get(ctx, csr.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range got.Status.Conditions {
			switch {
			case c.Type == certificatesv1.CertificateDenied && c.Reason == "CellplaneNodeCheckFailed" && strings.Contains(c.Message, "not in any of the cluster's node groups"):
				if len(got.Status.Certificate) != 0 {
					return framework.Permanent(errors.New("a denied request got a certificate"))
				}
				return nil
			case c.Type == certificatesv1.CertificateApproved:
				return framework.Permanent(fmt.Errorf("the intruder's request was approved: %+v", c))
			}
		}
		return fmt.Errorf("intruder's CSR undecided: %+v", got.Status.Conditions)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the intruder's serving CSR was denied %s after it was made", time.Since(start).Round(100*time.Millisecond))
}

// webDeployment runs one web server pod, preferring node.
func webDeployment(ctx context.Context, t *testing.T, kube kubernetes.Interface, node string) {
	t.Helper()
	labels := map[string]string{"app": "web"}
	prefer := &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
		Weight: 100, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{
			Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}}}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: aws.Int32(1), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Affinity: prefer, AutomountServiceAccountToken: aws.Bool(false),
				Containers: []corev1.Container{{Name: "web", Image: images.WebServer.Ref, ImagePullPolicy: corev1.PullNever,
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}}}}
	if _, err := kube.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// runningWeb waits for a Running web pod (on node, unless "") and returns it.
func runningWeb(ctx context.Context, t *testing.T, kube kubernetes.Interface, node string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	err := framework.Eventually(ctx, 3*time.Minute, time.Second, func() error {
		l, err := kube.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		var seen []string
		for i := range l.Items {
			p := &l.Items[i]
			seen = append(seen, fmt.Sprintf("%s on %q: %s %v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.ContainerStatuses))
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil && (node == "" || p.Spec.NodeName == node) {
				pod = p
				return nil
			}
		}
		return fmt.Errorf("no Running web pod on %q: %v", node, seen)
	})
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

// logsAndExec reaches the pod's kubelet through the cluster's endpoint.
func logsAndExec(ctx context.Context, t *testing.T, kc, pod string) {
	t.Helper()
	err := framework.Eventually(ctx, time.Minute, time.Second, func() error {
		logs, err := kubectl(ctx, kc, "logs", pod)
		if err != nil {
			return err
		}
		if !strings.Contains(logs, "listening on :8080") {
			return fmt.Errorf("logs %q lack the server's start line", logs)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("kubectl logs: %v", err)
	}
	got, err := kubectl(ctx, kc, "exec", pod, "--", "/webserver", "echo", "hello", "from", "exec")
	if err != nil || strings.TrimSpace(got) != "hello from exec" {
		t.Fatalf("kubectl exec: %q, %v", got, err)
	}
}

// watchCordon notes whether node is ever marked unschedulable.
func watchCordon(ctx context.Context, t *testing.T, kube kubernetes.Interface, node string, cordoned *atomic.Bool) func() {
	t.Helper()
	w, err := kube.CoreV1().Nodes().Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + node})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if n, ok := ev.Object.(*corev1.Node); ok && n.Spec.Unschedulable {
				cordoned.Store(true)
			}
		}
	}()
	return func() { w.Stop(); <-done }
}
