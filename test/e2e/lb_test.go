package e2e

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cellplane/cellplane/internal/lb"
	"github.com/cellplane/cellplane/test/framework"
)

// steadyClients runs n clients through the endpoint, each on a connection of its
// own (client-go shares a transport between identical configs; a Dial function
// of its own opts out), each listing ConfigMaps every 100 ms until the test
// ends.
type steadyClients struct {
	ok, failed atomic.Int64
	wg         sync.WaitGroup
}

func startSteadyClients(ctx context.Context, t *testing.T, kc string, n int) *steadyClients {
	t.Helper()
	ctx, stop := context.WithCancel(ctx)
	s := &steadyClients{}
	// Registered after the instance's cleanup, so it runs first.
	t.Cleanup(func() {
		stop()
		s.wg.Wait()
	})
	for range n {
		cfg, err := clientcmd.BuildConfigFromFlags("", kc)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Dial = (&net.Dialer{Timeout: 5 * time.Second}).DialContext
		cfg.QPS, cfg.Burst, cfg.Timeout = 100, 100, 5*time.Second
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		s.wg.Go(func() {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				if _, err := cs.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{Limit: 1}); err != nil && ctx.Err() == nil {
					s.failed.Add(1)
				} else if err == nil {
					s.ok.Add(1)
				}
			}
		})
	}
	return s
}

// TestLoadBalancerRebalancesAndDropsSilentBackends restarts one of the two API
// servers under steady client load and measures how long the connections take
// to spread back to within 20% of even (kube-apiserver's --goaway-chance sends
// busy HTTP/2 clients to reconnect, and the balancer places each new connection
// on the server with the fewest); then it freezes one API server (SIGSTOP: the
// kernel still accepts connections, nothing answers) and measures how long it
// stays in the balancer's rotation.
func TestLoadBalancerRebalancesAndDropsSilentBackends(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	// The default (0.001) rebalances a client doing 10 requests/s in about 100 s;
	// the maximum makes the test take seconds.
	in.Args = []string{"--apiserver-goaway-chance", "0.02"}
	in.Start(ctx)
	cl := createActive(ctx, t, in, "spread")
	kc := kubeconfig(ctx, t, in, "spread")

	const clients = 10
	s := startSteadyClients(ctx, t, kc, clients)
	counts := func() (a, b int, st map[string]lb.BackendStatus, err error) {
		st, err = framework.EndpointBackends(ctx, cl.Endpoint)
		return st["kube-apiserver-a"].ActiveConnections, st["kube-apiserver-b"].ActiveConnections, st, err
	}
	err := framework.Eventually(ctx, time.Minute, 250*time.Millisecond, func() error {
		a, b, _, err := counts()
		if err != nil || a+b < clients {
			return fmt.Errorf("connections a=%d b=%d (%v)", a, b, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("connections spread back after a restart", func(t *testing.T) {
		pid := componentPIDs(t, describe(ctx, t, in, "spread"))["kube-apiserver-a"]
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		// Its clients reconnect at once, while it restarts, mostly onto b; how
		// far they pile up depends on how fast the runtime restarts it, so the
		// skew is reported rather than required.
		var a, b, maxSkew int
		var back time.Time
		err := framework.Eventually(ctx, 3*time.Minute, 100*time.Millisecond, func() error {
			var st map[string]lb.BackendStatus
			var err error
			a, b, st, err = counts()
			if err != nil {
				return err
			}
			maxSkew = max(maxSkew, b-a)
			if back.IsZero() {
				if _, err := kubectl(ctx, kc, "get", "--raw", "/readyz", "--server", "https://"+st["kube-apiserver-a"].Address); err != nil {
					return fmt.Errorf("kube-apiserver-a not ready again: %v", err)
				}
				back = time.Now()
			}
			// Within 20% of even: each server holds half the connections, give or
			// take a fifth of that half.
			half := float64(a+b) / 2
			if d := float64(a) - half; d > 0.2*half || d < -0.2*half || a+b < clients {
				return fmt.Errorf("connections a=%d b=%d", a, b)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("connections never spread back: %v", err)
		}
		t.Logf("kube-apiserver-a ready again %s after the kill (b held up to %d more connections than a meanwhile); connections within 20%% of even (a=%d b=%d) %s later; requests ok %d, failed %d",
			back.Sub(killed).Round(100*time.Millisecond), maxSkew, a, b, time.Since(back).Round(100*time.Millisecond), s.ok.Load(), s.failed.Load())
	})

	t.Run("a silent backend leaves the rotation within 5 s", func(t *testing.T) {
		// The restart before may have taken zone a's controllers down with
		// their API server; they are back within seconds.
		pid := clusterPIDs(ctx, t, in, "spread")["kube-apiserver-b"]
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		frozen := time.Now()
		resumed := false
		resume := func() {
			if !resumed {
				resumed = true
				_ = syscall.Kill(pid, syscall.SIGCONT)
			}
		}
		defer resume()
		var left time.Duration
		err := framework.Eventually(ctx, 30*time.Second, 50*time.Millisecond, func() error {
			st, err := framework.EndpointBackends(ctx, cl.Endpoint)
			if err != nil {
				return err
			}
			if b := st["kube-apiserver-b"]; b.State != lb.StateUnhealthy {
				return fmt.Errorf("kube-apiserver-b is %s", b.State)
			}
			left = time.Since(frozen)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("frozen kube-apiserver-b left the rotation %s after SIGSTOP", left.Round(10*time.Millisecond))
		if left > 5*time.Second {
			t.Errorf("a silent backend stayed in rotation %s, want under 5 s", left)
		}
		// New connections go to the live server only.
		for i := range 5 {
			if _, err := kubectl(ctx, kc, "get", "configmaps"); err != nil {
				t.Errorf("request %d through the endpoint with kube-apiserver-b frozen: %v", i, err)
			}
		}
		resume()
		err = framework.Eventually(ctx, 30*time.Second, 100*time.Millisecond, func() error {
			st, err := framework.EndpointBackends(ctx, cl.Endpoint)
			if err != nil {
				return err
			}
			if b := st["kube-apiserver-b"]; b.State != lb.StateHealthy {
				return fmt.Errorf("kube-apiserver-b is %s", b.State)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
