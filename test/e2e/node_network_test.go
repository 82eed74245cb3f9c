package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/nodes/clusternet"
	"github.com/cellplane/cellplane/internal/nodes/csrapproval"
	"github.com/cellplane/cellplane/internal/nodes/images"
	"github.com/cellplane/cellplane/internal/nodes/machine"
	"github.com/cellplane/cellplane/internal/runtime/nsthread"
	"github.com/cellplane/cellplane/test/framework"
)

// TestNodeNetwork joins two real machines to one cluster network: a pod on
// each node reaches the pod on the other at its pod IP, and is seen there
// from its own pod IP (routed, not translated); pods and nodes reach the
// address the API servers advertise, where the cluster network passes TLS
// through to the endpoint; the `kubernetes` Service's EndpointSlice holds
// that address. Stopping the machines and removing the network leaves no
// namespace, link or route.
func TestNodeNetwork(t *testing.T) {
	ctx := ctxFor(t)
	nodeBins, err := components.New(components.Config{Progress: os.Stderr}).Node(ctx, components.Default())
	if err != nil {
		t.Fatal(err)
	}
	in := framework.Shared(ctx, t, bins)
	sdk := sdkClient(t, in.DataDir)
	const name = "nodes-network"
	endpoint, kc, cs, ca := handMadeCluster(ctx, t, in, sdk, name)

	// The cell's part, by hand: the cluster network's process.
	netName := fmt.Sprintf("e2e-%d", os.Getpid()%100000)
	link := clusternet.LinkOf(netName)
	netCtx, stopNet := context.WithCancel(ctx)
	netDone := make(chan error, 1)
	go func() {
		netDone <- clusternet.Run(netCtx, clusternet.Config{
			Name: netName, Upstream: strings.TrimPrefix(endpoint, "https://"), Log: slog.New(slog.NewTextHandler(os.Stderr, nil)),
		})
	}()
	netStopped := false
	stopNetwork := func() error {
		netStopped = true
		stopNet()
		return errors.Join(<-netDone, clusternet.Remove(netName))
	}
	t.Cleanup(func() {
		if !netStopped {
			if err := stopNetwork(); err != nil {
				t.Errorf("stopping the cluster network: %v", err)
			}
		}
	})

	ms, cfgs := startNetworkMachines(ctx, t, cs, endpoint, ca, nodeBins.Kubelet, &link)
	approver := startApprover(ctx, t, cs, csrapproval.Static{cfgs[0].Name: {cfgs[0].Address}, cfgs[1].Name: {cfgs[1].Address}})
	for _, c := range cfgs {
		waitNodeReady(ctx, t, cs, c.Name, c.Dir)
	}

	// A web server on each node.
	var podIPs []string
	for i, c := range cfgs {
		pod := webPod(c.Name)
		pod.Name = fmt.Sprintf("web-%d", i+1)
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		ip, err := waitPodIP(ctx, cs, pod.Name, c.PodCIDR)
		if err != nil {
			logMachine(t, c.Dir)
			t.Fatalf("pod %s: %v", pod.Name, err)
		}
		podIPs = append(podIPs, ip)
	}
	// Pod to pod, both ways, from inside each web server's own namespace:
	// the other pod sees the caller's pod IP.
	for i := range cfgs {
		j := 1 - i
		from := podNetns(t, ms[i])
		body, err := httpGetFrom(from, net.JoinHostPort(podIPs[j], "8080"), fmt.Sprintf("/from-web-%d", i+1))
		if err != nil || !strings.HasSuffix(body, fmt.Sprintf("\r\n\r\nhello from web-%d\n", j+1)) {
			t.Fatalf("GET web-%d from web-%d: %q, %v", j+1, i+1, body, err)
		}
		err = framework.Eventually(ctx, 30*time.Second, time.Second, func() error {
			logs, err := kubectl(ctx, kc, "logs", fmt.Sprintf("web-%d", j+1))
			if err != nil {
				return err
			}
			if want := fmt.Sprintf(`"/from-web-%d" from %s:`, i+1, podIPs[i]); !strings.Contains(logs, want) {
				return fmt.Errorf("logs of web-%d lack %q:\n%s", j+1, want, logs)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// The kubernetes Service's endpoints: the addresses the API servers of
	// zones a and b advertise, port 6443.
	var eps []string
	err = framework.Eventually(ctx, time.Minute, time.Second, func() error {
		eps, err = kubernetesEndpoints(ctx, cs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The host has no link into the cluster network: it refuses to send
	// there rather than send to its default gateway.
	for _, svc := range eps {
		ap := netip.MustParseAddrPort(svc)
		rs, err := netlink.RouteGet(ap.Addr().AsSlice())
		if !errors.Is(err, unix.EHOSTUNREACH) && (err != nil || len(rs) != 1 || rs[0].Type != unix.RTN_UNREACHABLE) {
			t.Errorf("host route to %s: %v, %v; want unreachable", ap.Addr(), rs, err)
		}
	}
	// Each, from a pod and from a node: the API server's own certificate,
	// verified against the cluster CA for the name pods use, and an HTTP
	// answer from /version.
	for _, svc := range eps {
		for _, from := range []string{podNetns(t, ms[0]), "/run/netns/cellplane-node-" + cfgs[1].Name} {
			status, err := tlsVersionFrom(from, svc, ca)
			if err != nil {
				t.Fatalf("TLS to %s from %s: %v", svc, from, err)
			}
			t.Logf("GET https://%s/version from %s: %s", svc, from, status)
		}
	}

	if n := approver.approved(); n < 2 {
		t.Errorf("%d serving certificates approved, want one per node", n)
	}
	// Both first: each check looks for any machine's link on the host.
	pids := make([][]int, len(ms))
	for i, m := range ms {
		pids[i] = m.PIDs()
		if err := m.Stop(); err != nil {
			t.Fatalf("stopping %s: %v", cfgs[i].Name, err)
		}
	}
	for i := range ms {
		assertMachineGone(t, cfgs[i], pids[i])
	}
	if err := stopNetwork(); err != nil {
		t.Fatalf("stopping the cluster network: %v", err)
	}
	assertNetworkGone(t, cfgs)
}

// startNetworkMachines starts two machines of one cluster network.
func startNetworkMachines(ctx context.Context, t *testing.T, cs kubernetes.Interface, endpoint string, ca []byte, kubelet string, link *clusternet.Link) ([]*machine.Machine, []machine.Config) {
	t.Helper()
	bootKC := bootstrapKubeconfig(ctx, t, cs, endpoint, ca, "e2e network nodes")
	ib := images.Builder{Dir: filepath.Join(t.TempDir(), "images")}
	var archives []string
	for _, img := range []images.Image{images.Pause, images.WebServer} {
		p, err := ib.Archive(ctx, img)
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, p)
	}
	cellPrefix, hostAddr, _ := nodeCellOf(t, endpoint)
	var ms []*machine.Machine
	var cfgs []machine.Config
	for _, k := range []byte{3, 4} {
		dir, err := os.MkdirTemp("", "cpn-")
		if err != nil {
			t.Fatal(err)
		}
		src := cellPrefix.Addr().As4()
		src[2], src[3] = 240, k
		cfg := machine.Config{
			Name: fmt.Sprintf("net-%d-%d", os.Getpid()%100000, k), Dir: dir,
			Address:    netip.AddrFrom4([4]byte{10, 250, 0, k}),
			PodCIDR:    netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 244, k, 0}), 24),
			CellPrefix: cellPrefix, HostAddress: hostAddr, CellSource: netip.AddrFrom4(src),
			BootstrapKubeconfig: bootKC, ClientCA: ca, Kubelet: kubelet,
			Images: archives, SandboxImage: images.Pause.Ref,
			Network: link,
			Labels:  map[string]string{"cellplane.io/test": "network"},
			Log:     slog.New(slog.NewTextHandler(os.Stderr, nil)),
		}
		m, err := machine.Start(ctx, cfg)
		if err != nil {
			t.Fatalf("starting machine %s: %v", cfg.Name, err)
		}
		t.Cleanup(func() {
			if err := m.Stop(); err != nil {
				logMachine(t, cfg.Dir)
				t.Errorf("stopping machine %s: %v", cfg.Name, err)
			}
		})
		ms, cfgs = append(ms, m), append(cfgs, cfg)
	}
	return ms, cfgs
}

func waitPodIP(ctx context.Context, cs kubernetes.Interface, name string, cidr netip.Prefix) (string, error) {
	var ip string
	err := framework.Eventually(ctx, 3*time.Minute, time.Second, func() error {
		p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			return fmt.Errorf("pod is %s (%+v)", p.Status.Phase, p.Status.ContainerStatuses)
		}
		if !cidr.Contains(netip.MustParseAddr(p.Status.PodIP)) {
			return framework.Permanent(fmt.Errorf("pod IP %s is outside the machine's pod CIDR %s", p.Status.PodIP, cidr))
		}
		ip = p.Status.PodIP
		return nil
	})
	return ip, err
}

// podNetns is the network namespace of the machine's web server: the one
// process of the machine running /webserver.
func podNetns(t *testing.T, m *machine.Machine) string {
	t.Helper()
	var found []int
	for _, pid := range m.PIDs() {
		cmd, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err == nil && strings.HasPrefix(string(cmd), "/webserver\x00") {
			found = append(found, pid)
		}
	}
	if len(found) != 1 {
		t.Fatalf("machine %s runs web servers %v: want one", m.Name(), found)
	}
	return fmt.Sprintf("/proc/%d/ns/net", found[0])
}

// httpGetFrom makes the request on a socket made inside the namespace at
// netnsPath: net/http would dial from another goroutine, outside it.
func httpGetFrom(netnsPath, addr, path string) (string, error) {
	var body []byte
	err := nsthread.InPath(netnsPath, func() error {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close() }()
		if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			return err
		}
		if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.0\r\nHost: web\r\n\r\n"); err != nil {
			return err
		}
		body, err = io.ReadAll(conn)
		return err
	})
	return string(body), err
}

// tlsVersionFrom dials addr from inside the namespace, verifies the
// server's certificate for the name pods use against the cluster CA, and
// returns the status line of GET /version.
func tlsVersionFrom(netnsPath, addr string, ca []byte) (string, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return "", errors.New("no CA certificate")
	}
	var status string
	err := nsthread.InPath(netnsPath, func() error {
		raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		conn := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "kubernetes.default.svc", MinVersion: tls.VersionTLS12})
		defer func() { _ = conn.Close() }()
		if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			return err
		}
		if err := conn.Handshake(); err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		if cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "kube-apiserver" {
			return fmt.Errorf("certificate of %q, want kube-apiserver's", cn)
		}
		if _, err := io.WriteString(conn, "GET /version HTTP/1.0\r\nHost: kubernetes.default.svc\r\n\r\n"); err != nil {
			return err
		}
		resp, err := io.ReadAll(conn)
		if err != nil {
			return err
		}
		status, _, _ = strings.Cut(string(resp), "\r\n")
		return nil
	})
	if err == nil && !strings.HasPrefix(status, "HTTP/1.0 200") && !strings.HasPrefix(status, "HTTP/1.0 401") && !strings.HasPrefix(status, "HTTP/1.0 403") {
		err = fmt.Errorf("status %q: want 200, 401 or 403 from the API server", status)
	}
	return status, err
}

// kubernetesEndpoints lists the kubernetes Service's endpoints, which must
// be the service addresses of zones a and b, port 6443.
func kubernetesEndpoints(ctx context.Context, cs kubernetes.Interface) ([]string, error) {
	list, err := cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=kubernetes"})
	if err != nil {
		return nil, err
	}
	var got []string
	for _, s := range list.Items {
		for _, e := range s.Endpoints {
			for _, p := range s.Ports {
				for _, a := range e.Addresses {
					got = append(got, net.JoinHostPort(a, strconv.Itoa(int(aws.ToInt32(p.Port)))))
				}
			}
		}
	}
	slices.Sort(got)
	svc := clusternet.ServiceAddresses()
	want := []string{netip.AddrPortFrom(svc[0], clusternet.APIServerPort).String(), netip.AddrPortFrom(svc[1], clusternet.APIServerPort).String()}
	if !slices.Equal(got, want) {
		return nil, fmt.Errorf("the kubernetes Service's endpoints are %v, want %v", got, want)
	}
	return got, nil
}

// assertNetworkGone checks that no cluster network, no link of one, and no
// host route to the machines' or the cluster network's addresses is left.
func assertNetworkGone(t *testing.T, cfgs []machine.Config) {
	t.Helper()
	entries, err := os.ReadDir("/run/netns")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "cellplane-net-") {
			t.Errorf("cluster network %s left", e.Name())
		}
	}
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if n := l.Attrs().Name; strings.HasPrefix(n, "cpc") || strings.HasPrefix(n, "cpn") {
			t.Errorf("link %s left on the host", n)
		}
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: 0}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		dst, _ := netip.AddrFromSlice(r.Dst.IP.To4())
		bad := clusternet.Network.Contains(dst) || (r.Type == unix.RTN_UNREACHABLE && netip.MustParsePrefix("10.0.0.0/8").Contains(dst))
		for _, c := range cfgs {
			bad = bad || dst == c.Address || c.PodCIDR.Contains(dst) || dst == c.CellSource
		}
		if bad {
			t.Errorf("route %s left on the host", r)
		}
	}
}
