package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	"github.com/cellplane/cellplane/internal/nodes/clusternet"
	"github.com/cellplane/cellplane/internal/nodes/csrapproval"
	"github.com/cellplane/cellplane/internal/nodes/images"
	"github.com/cellplane/cellplane/internal/nodes/machine"
	"github.com/cellplane/cellplane/internal/nodes/nodeaddr"
	"github.com/cellplane/cellplane/test/framework"
)

// realNodes is the size of issue 14's real-node benchmark.
const realNodes = 2

// BenchmarkKubeletNodegroup measures issue 14's real half: CreateNodegroup of
// two CELLPLANE_KUBELET nodes to both Nodes Ready, against two machines
// started by hand on a second cluster of the same instance with the same
// binaries and images: a bootstrap token, a cluster network, the machines,
// and an approver of their serving certificates, as the cell does. The
// by-hand run goes first, so the node images are in the cache for both.
func BenchmarkKubeletNodegroup(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cache := components.New(components.Config{Progress: os.Stderr})
	nodeBins, err := cache.Node(ctx, components.Default())
	if err != nil {
		b.Fatal(err)
	}
	dns, err := cache.CoreDNS(ctx)
	if err != nil {
		b.Fatal(err)
	}
	archives, err := images.Builder{Dir: filepath.Join(components.DefaultCacheDir(), "node-images")}.NodeArchives(ctx, nodeBins, dns)
	if err != nil {
		b.Fatal(err)
	}
	in := framework.NewInstance(b, bins)
	in.Start(ctx)
	var kcA, kcB string
	var wg sync.WaitGroup
	wg.Go(func() { kcA = activeCluster(ctx, b, in, "real-cp") })
	wg.Go(func() { kcB = activeCluster(ctx, b, in, "real-raw") })
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	sdk := benchSDKClient(b, in.DataDir)

	b.Logf("load before (b): %s", loadavg())
	raw := realByHand(ctx, b, kcB, nodeBins.Kubelet, archives)
	b.Logf("load before (a): %s", loadavg())
	cp := realThroughCellplane(ctx, b, sdk, nodeClient(b, kcA), "real-cp")
	b.Logf("load after (a): %s", loadavg())

	b.ReportMetric(cp.Seconds(), "cellplane-ready-s")
	b.ReportMetric(raw.Seconds(), "byhand-ready-s")
	b.ReportMetric(cp.Seconds()/raw.Seconds(), "ratio-ready")
	b.Logf("%d real nodes Ready: cellplane %v, by hand %v", realNodes, cp.Round(time.Millisecond), raw.Round(time.Millisecond))
}

func realThroughCellplane(ctx context.Context, b *testing.B, sdk *awseks.Client, kube kubernetes.Interface, cluster string) time.Duration {
	const group = "bench"
	b.Cleanup(func() { deleteGroup(context.Background(), b, sdk, cluster, group) })
	start := time.Now()
	_, err := sdk.CreateNodegroup(ctx, &awseks.CreateNodegroupInput{
		ClusterName: aws.String(cluster), NodegroupName: aws.String(group), AmiType: types.AMITypes("CELLPLANE_KUBELET"),
		Subnets: []string{"subnet-a", "subnet-b"}, NodeRole: aws.String("arn:aws:iam::000000000000:role/node"),
		ScalingConfig: &types.NodegroupScalingConfig{MinSize: aws.Int32(realNodes), MaxSize: aws.Int32(realNodes), DesiredSize: aws.Int32(realNodes)},
		Labels:        map[string]string{"bench": "cellplane"},
	})
	if err != nil {
		b.Fatalf("CreateNodegroup: %v", err)
	}
	return waitRealReady(ctx, b, kube, "bench=cellplane", start)
}

// realByHand starts the machines the cell would, itself, and times them
// from the first step (the token) to every Node Ready.
func realByHand(ctx context.Context, b *testing.B, kc, kubelet string, archives []string) time.Duration {
	rc, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		b.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		b.Fatal(err)
	}
	endpoint := strings.TrimSuffix(rc.Host, "/")
	cellPrefix, hostAddr := cellOf(b, endpoint)
	key := fmt.Sprintf("bench-%d", os.Getpid())
	var alloc nodeaddr.Allocator
	dir := b.TempDir()
	netCtx, stopNet := context.WithCancel(ctx)
	netDone := make(chan error, 1)
	b.Cleanup(func() {
		stopNet()
		if err := <-netDone; err != nil {
			b.Errorf("the by-hand cluster network: %v", err)
		}
		if err := clusternet.Remove(key); err != nil {
			b.Errorf("removing the by-hand cluster network: %v", err)
		}
	})

	start := time.Now()
	if err := bootstrap.EnsureRBAC(ctx, kube); err != nil {
		b.Fatal(err)
	}
	tok, err := bootstrap.CreateToken(ctx, kube, bootstrap.TokenOptions{Description: "bench nodes"})
	if err != nil {
		b.Fatal(err)
	}
	bootKC, err := bootstrap.Kubeconfig(endpoint, rc.CAData, tok)
	if err != nil {
		b.Fatal(err)
	}
	upstream := strings.TrimPrefix(endpoint, "https://")
	go func() { netDone <- clusternet.Run(netCtx, clusternet.Config{Name: key, Upstream: upstream}) }()
	link := clusternet.LinkOf(key)
	nodes := csrapproval.Static{}
	var machines []*machine.Machine
	for i := range realNodes {
		name := fmt.Sprintf("%s-%d", key, i)
		k, err := alloc.Claim(name, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = alloc.Release(name, k) })
		a, err := nodeaddr.Of(k, cellPrefix)
		if err != nil {
			b.Fatal(err)
		}
		nodes[name] = []netip.Addr{a.Address}
		cfg := machine.Config{
			Name: name, Dir: filepath.Join(dir, name), Address: a.Address, PodCIDR: a.PodCIDR,
			CellPrefix: cellPrefix, HostAddress: hostAddr, CellSource: a.CellSource,
			BootstrapKubeconfig: bootKC, ClientCA: rc.CAData, Kubelet: kubelet,
			Images: archives, SandboxImage: images.Pause.Ref, Network: &link,
			Labels: map[string]string{"bench": "byhand", "topology.kubernetes.io/zone": string(rune('a' + i))},
			Log:    slog.New(slog.DiscardHandler),
		}
		m, err := machine.Start(ctx, cfg)
		if err != nil {
			b.Fatalf("starting machine %s: %v", name, err)
		}
		machines = append(machines, m)
	}
	b.Cleanup(func() {
		for _, m := range machines {
			if err := m.Stop(); err != nil {
				b.Errorf("stopping machine %s: %v", m.Name(), err)
			}
		}
	})
	approve, stopApprove := context.WithCancel(ctx)
	defer stopApprove()
	go approveServing(approve, kube, nodes)
	return waitRealReady(ctx, b, kube, "bench=byhand", start)
}

// approveServing reviews pending serving certificates as the cell does.
func approveServing(ctx context.Context, kube kubernetes.Interface, nodes csrapproval.Static) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		l, err := kube.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		for i := range l.Items {
			_, _ = csrapproval.Review(ctx, kube, &l.Items[i], nodes) // the next tick retries
		}
	}
}

// cellOf is the cell's loopback /16 of an endpoint and its store address
// (.0.1), which the host owns.
func cellOf(b *testing.B, endpoint string) (netip.Prefix, netip.Addr) {
	host := strings.TrimPrefix(endpoint, "https://")
	host, _, _ = strings.Cut(host, ":")
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		b.Fatalf("endpoint %s: %v", endpoint, err)
	}
	p := netip.PrefixFrom(ip, 16).Masked()
	a := p.Addr().As4()
	a[3] = 1
	return p, netip.AddrFrom4(a)
}

func waitRealReady(ctx context.Context, b *testing.B, kube kubernetes.Interface, selector string, start time.Time) time.Duration {
	var took time.Duration
	err := framework.Eventually(ctx, 5*time.Minute, 100*time.Millisecond, func() error {
		l, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		n := 0
		for _, node := range l.Items {
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					n++
				}
			}
		}
		if n < realNodes {
			return fmt.Errorf("%d of %d nodes %s Ready", n, realNodes, selector)
		}
		took = time.Since(start)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return took
}
