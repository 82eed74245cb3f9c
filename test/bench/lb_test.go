package bench

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cellplane/cellplane/test/framework"
)

// Request counts of BenchmarkEndpointLatency: blocks alternate between the two
// paths, so drift in the machine's load hits both alike.
const (
	latencyBlocks    = 40
	latencyPerBlock  = 100
	latencyWarmupReq = 200
)

// BenchmarkEndpointLatency measures a real request (GET of one ConfigMap, with
// client-go) to a real kube-apiserver through the cluster's endpoint, against the
// same request sent straight to the API server the endpoint's connection landed
// on. Each path has one kept-alive HTTP/2 connection of its own.
func BenchmarkEndpointLatency(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	in := framework.NewInstance(b, bins)
	in.Start(ctx)
	kc := activeCluster(ctx, b, in, "latency")
	viaLB := clientset(b, kc, "")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe"}, Data: map[string]string{"k": "v"}}
	if _, err := viaLB.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	backend := connectedBackend(b, ctx, kc)
	direct := clientset(b, kc, "https://"+backend)
	b.Logf("the endpoint's connection landed on %s; the direct path goes there too", backend)

	get := func(cs *kubernetes.Clientset) time.Duration {
		start := time.Now()
		if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "probe", metav1.GetOptions{}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for range latencyWarmupReq {
		get(viaLB)
		get(direct)
	}
	var lbT, directT []time.Duration
	b.ResetTimer()
	for i := range latencyBlocks {
		for range latencyPerBlock {
			if i%2 == 0 {
				lbT = append(lbT, get(viaLB))
			} else {
				directT = append(directT, get(direct))
			}
		}
		for range latencyPerBlock {
			if i%2 == 0 {
				directT = append(directT, get(direct))
			} else {
				lbT = append(lbT, get(viaLB))
			}
		}
	}
	b.StopTimer()
	p := func(ds []time.Duration, q float64) float64 {
		slices.Sort(ds)
		return float64(ds[int(q*float64(len(ds)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(p(directT, 0.5), "direct-p50-ms")
	b.ReportMetric(p(directT, 0.99), "direct-p99-ms")
	b.ReportMetric(p(lbT, 0.5), "endpoint-p50-ms")
	b.ReportMetric(p(lbT, 0.99), "endpoint-p99-ms")
	b.ReportMetric(p(lbT, 0.5)/p(directT, 0.5), "ratio-p50")
	b.ReportMetric(p(lbT, 0.99)/p(directT, 0.99), "ratio-p99")
	b.Logf("%d requests per path: direct p50 %.3f ms p99 %.3f ms; endpoint p50 %.3f ms p99 %.3f ms; ratio p50 %.3f (target ≤ 1.05), p99 %.3f",
		len(lbT), p(directT, 0.5), p(directT, 0.99), p(lbT, 0.5), p(lbT, 0.99), p(lbT, 0.5)/p(directT, 0.5), p(lbT, 0.99)/p(directT, 0.99))
}

// clientset builds a client with a transport of its own (a Dial function opts
// out of client-go's shared transports), sent to server when given.
func clientset(b *testing.B, kc, server string) *kubernetes.Clientset {
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		b.Fatal(err)
	}
	if server != "" {
		cfg.Host = server
	}
	cfg.Dial = (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	cfg.QPS, cfg.Burst = 1e6, 1e6
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return cs
}

// connectedBackend asks the cell's load balancer which API server holds the
// endpoint's one client connection.
func connectedBackend(b *testing.B, ctx context.Context, kc string) string {
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		b.Fatal(err)
	}
	var addr string
	err = framework.Eventually(ctx, 30*time.Second, 100*time.Millisecond, func() error {
		backends, err := framework.EndpointBackends(ctx, cfg.Host)
		if err != nil {
			return err
		}
		for _, be := range backends {
			if be.ActiveConnections == 1 {
				addr = be.Address
				return nil
			}
		}
		return fmt.Errorf("no backend with exactly the one connection: %+v", backends)
	})
	if err != nil {
		b.Fatal(err)
	}
	return addr
}

// activeCluster creates cluster name, waits until it is ACTIVE and returns
// the path of its admin kubeconfig.
func activeCluster(ctx context.Context, b *testing.B, in *framework.Instance, name string) string {
	b.Helper()
	if _, errOut, err := in.CLI(ctx, "cluster", "create", name, "--wait"); err != nil {
		b.Fatalf("cluster create: %v\n%s", err, errOut)
	}
	kc := filepath.Join(b.TempDir(), name+".kubeconfig")
	if _, errOut, err := in.CLI(ctx, "cluster", "kubeconfig", name, "--admin", "--output", kc); err != nil {
		b.Fatalf("cluster kubeconfig: %v\n%s", err, errOut)
	}
	return kc
}
