package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/nodes/bootstrap"
	"github.com/cellplane/cellplane/internal/nodes/csrapproval"
	"github.com/cellplane/cellplane/internal/nodes/images"
	"github.com/cellplane/cellplane/internal/nodes/machine"
	"github.com/cellplane/cellplane/internal/runtime/nsthread"
	"github.com/cellplane/cellplane/test/framework"
)

// TestNodeKubelet joins one real machine to a cluster by TLS bootstrap: a
// kubelet with containerd and CNI in namespaces of its own becomes a Ready
// node, runs a pod of the test web server from an image cellplane built,
// and `kubectl logs` and `exec` reach it through the cluster's endpoint,
// verifying its serving certificate. Stopping the machine leaves no
// process, namespace, mount, cgroup or file.
func TestNodeKubelet(t *testing.T) {
	ctx := ctxFor(t)
	nodeBins, err := components.New(components.Config{Progress: os.Stderr}).Node(ctx, components.Default())
	if err != nil {
		t.Fatal(err)
	}
	in := framework.Shared(ctx, t, bins)
	sdk := sdkClient(t, in.DataDir)
	const name = "nodes-kubelet"
	endpoint, kc, cs, ca := handMadeCluster(ctx, t, in, sdk, name)

	// The node-group controller's part, by hand: RBAC, a token, a machine.
	bootKC := bootstrapKubeconfig(ctx, t, cs, endpoint, ca, "e2e node")
	ib := images.Builder{Dir: filepath.Join(t.TempDir(), "images")}
	var archives []string
	for _, img := range []images.Image{images.Pause, images.WebServer} {
		p, err := ib.Archive(ctx, img)
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, p)
	}
	cellPrefix, hostAddr, cellSource := nodeCellOf(t, endpoint)
	dir, err := os.MkdirTemp("", "cpn-")
	if err != nil {
		t.Fatal(err)
	}
	nodeName := fmt.Sprintf("kubelet-%d", os.Getpid()%100000)
	cfg := machine.Config{
		Name: nodeName, Dir: dir,
		Address: netip.MustParseAddr("10.250.0.2"), PodCIDR: netip.MustParsePrefix("10.251.0.0/24"),
		CellPrefix: cellPrefix, HostAddress: hostAddr, CellSource: cellSource,
		BootstrapKubeconfig: bootKC, ClientCA: ca, Kubelet: nodeBins.Kubelet,
		Images: archives, SandboxImage: images.Pause.Ref,
		Labels: map[string]string{"cellplane.io/test": "kubelet"},
		Log:    slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	start := time.Now()
	m, err := machine.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("starting the machine: %v", err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			logMachine(t, dir)
			if err := m.Stop(); err != nil {
				t.Errorf("stopping the machine: %v", err)
			}
		}
	})
	approver := startApprover(ctx, t, cs, csrapproval.Static{nodeName: {cfg.Address}})

	waitNodeReady(ctx, t, cs, nodeName, dir)
	t.Logf("node %s Ready %s after the machine started", nodeName, time.Since(start).Round(100*time.Millisecond))

	pod := webPod(nodeName)
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = framework.Eventually(ctx, 3*time.Minute, time.Second, func() error {
		p, err := cs.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			return fmt.Errorf("pod is %s (%+v)", p.Status.Phase, p.Status.ContainerStatuses)
		}
		if !cfg.PodCIDR.Contains(netip.MustParseAddr(p.Status.PodIP)) {
			return framework.Permanent(fmt.Errorf("pod IP %s is outside the machine's pod CIDR %s", p.Status.PodIP, cfg.PodCIDR))
		}
		return nil
	})
	if err != nil {
		logMachine(t, dir)
		t.Fatalf("web server pod: %v", err)
	}
	// Pod networking: from inside the node, the pod answers at its IP on the
	// machine's bridge.
	p, err := cs.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The socket must be made on the thread inside the node's namespace:
	// net/http would dial from another goroutine, outside it.
	var body []byte
	err = nsthread.InPath("/run/netns/cellplane-node-"+nodeName, func() error {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(p.Status.PodIP, "8080"), 5*time.Second)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close() }()
		if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			return err
		}
		if _, err := io.WriteString(conn, "GET /from-node HTTP/1.0\r\nHost: web\r\n\r\n"); err != nil {
			return err
		}
		body, err = io.ReadAll(conn)
		return err
	})
	if err != nil || !strings.HasSuffix(string(body), "\r\n\r\nhello from web\n") {
		t.Fatalf("GET the pod from its node: %q, %v", body, err)
	}
	if n := approver.approved(); n == 0 {
		t.Error("no serving certificate was approved: the kubelet serves one of its own making")
	}

	// logs and exec: the API server dials the kubelet at the node's address
	// and verifies its certificate against the cluster CA.
	err = framework.Eventually(ctx, time.Minute, time.Second, func() error {
		logs, err := kubectl(ctx, kc, "logs", pod.Name)
		if err != nil {
			return err
		}
		if !strings.Contains(logs, "listening on :8080") || !strings.Contains(logs, `"/from-node"`) {
			return fmt.Errorf("logs %q lack the server's start line or the node's request", logs)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("kubectl logs: %v", err)
	}
	got, err := kubectl(ctx, kc, "exec", pod.Name, "--", "/webserver", "echo", "hello", "from", "exec")
	if err != nil || strings.TrimSpace(got) != "hello from exec" {
		t.Fatalf("kubectl exec: %q, %v", got, err)
	}

	pids := m.PIDs()
	if len(pids) < 4 {
		t.Errorf("machine runs %v: want at least holder, containerd, kubelet, shim and pod processes", pids)
	}
	stopped = true
	if err := m.Stop(); err != nil {
		t.Fatalf("stopping the machine: %v", err)
	}
	if err := m.Stop(); err != nil {
		t.Errorf("stopping again: %v", err)
	}
	assertMachineGone(t, cfg, pids)
}

// handMadeCluster creates the cluster name through the SDK (1.35, subnets a
// and b, its default add-ons) for machines a test starts by hand, waits for
// it to be ACTIVE, and returns its endpoint, an admin kubeconfig, a client
// and the CA bundle the client trusts.
func handMadeCluster(ctx context.Context, t *testing.T, in *framework.Instance, sdk *awseks.Client, name string) (string, string, kubernetes.Interface, []byte) {
	t.Helper()
	_, err := sdk.CreateCluster(ctx, &awseks.CreateClusterInput{
		Name: aws.String(name), Version: aws.String("1.37"), RoleArn: aws.String("arn:aws:iam::000000000000:role/eks"),
		ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-a", "subnet-b"}, EndpointPublicAccess: aws.Bool(true)},
	})
	if err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	waitActive(ctx, t, sdk, name)
	out, err := sdk.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	kc := kubeconfig(ctx, t, in, name)
	cs, ca := clientsetOf(t, kc)
	return aws.ToString(out.Cluster.Endpoint), kc, cs, ca
}

// bootstrapKubeconfig plays the node-group controller's part by hand:
// kubeadm's bootstrap RBAC, a bootstrap token, and the kubelet's bootstrap
// kubeconfig with it.
func bootstrapKubeconfig(ctx context.Context, t *testing.T, cs kubernetes.Interface, endpoint string, ca []byte, description string) []byte {
	t.Helper()
	if err := bootstrap.EnsureRBAC(ctx, cs); err != nil {
		t.Fatal(err)
	}
	tok, err := bootstrap.CreateToken(ctx, cs, bootstrap.TokenOptions{Description: description, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	kc, err := bootstrap.Kubeconfig(endpoint, ca, tok)
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

// clientsetOf returns a clientset for the kubeconfig and the CA bundle it trusts.
func clientsetOf(t *testing.T, kc string) (kubernetes.Interface, []byte) {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return cs, rc.CAData
}

// nodeCellOf is the cell's loopback /16 from the endpoint's address, the
// cell's store address in it (.0.1), which the host owns, and an address
// the cell's plan leaves unused (third octet 240) for the node's source.
func nodeCellOf(t *testing.T, endpoint string) (netip.Prefix, netip.Addr, netip.Addr) {
	t.Helper()
	host := strings.TrimPrefix(endpoint, "https://")
	host, _, _ = strings.Cut(host, ":")
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		t.Fatalf("endpoint %s: %v", endpoint, err)
	}
	p := netip.PrefixFrom(ip, 16).Masked()
	b := p.Addr().As4()
	b[3] = 1
	host4 := netip.AddrFrom4(b)
	b[2], b[3] = 240, 2
	return p, host4, netip.AddrFrom4(b)
}

type approver struct{ count chan int }

func (a *approver) approved() int { return <-a.count }

// startApprover plays the cell's part until the test ends: it reviews
// every pending kubelet-serving request.
func startApprover(ctx context.Context, t *testing.T, cs kubernetes.Interface, nodes csrapproval.Static) *approver {
	ctx, cancel := context.WithCancel(ctx)
	a := &approver{count: make(chan int)}
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		n := 0
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case a.count <- n:
				continue
			case <-tick.C:
			}
			list, err := cs.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for i := range list.Items {
				csr := &list.Items[i]
				d, ok, err := csrapproval.Decide(ctx, csr, nodes)
				if err != nil || !ok {
					continue
				}
				if _, err := csrapproval.Review(ctx, cs, csr, nodes); err == nil && d.Approve {
					n++
				}
			}
		}
	}()
	return a
}

func waitNodeReady(ctx context.Context, t *testing.T, cs kubernetes.Interface, name, dir string) {
	t.Helper()
	err := framework.Eventually(ctx, 3*time.Minute, time.Second, func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("node %s not Ready: %+v", name, n.Status.Conditions)
	})
	if err != nil {
		logMachine(t, dir)
		t.Fatal(err)
	}
}

func webPod(node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			NodeName: node,
			Containers: []corev1.Container{{
				Name: "web", Image: images.WebServer.Ref, ImagePullPolicy: corev1.PullNever,
				Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
			}},
			AutomountServiceAccountToken: aws.Bool(false),
		},
	}
}

// logMachine shows the tail of the machine's logs when something failed.
func logMachine(t *testing.T, dir string) {
	for _, f := range []string{"holder", "containerd", "kubelet"} {
		data, err := os.ReadFile(filepath.Join(dir, "logs", f+".log"))
		if err != nil {
			continue
		}
		if len(data) > 6000 {
			data = data[len(data)-6000:]
		}
		t.Logf("%s.log (tail):\n%s", f, data)
	}
}

// assertMachineGone checks that the machine left nothing: no process, no
// network namespace or link, no cgroup, no mount and no file.
func assertMachineGone(t *testing.T, cfg machine.Config, pids []int) {
	t.Helper()
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("process %d of the machine outlived it", pid)
		}
	}
	if _, err := os.Stat("/run/netns/cellplane-node-" + cfg.Name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("network namespace of %s left: %v", cfg.Name, err)
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/pids/cellplane-nodes", cfg.Name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup of %s left: %v", cfg.Name, err)
	}
	if _, err := os.Stat(cfg.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory %s left: %v", cfg.Dir, err)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), cfg.Dir) || strings.Contains(string(mounts), "cellplane-node-"+cfg.Name) {
		t.Errorf("mounts of the machine left:\n%s", mounts)
	}
	if links, err := os.ReadDir("/sys/class/net"); err == nil {
		for _, l := range links {
			if strings.HasPrefix(l.Name(), "cpn") {
				t.Errorf("link %s left on the host", l.Name())
			}
		}
	}
}
