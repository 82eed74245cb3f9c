package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/test/framework"
)

// TestZoneFaults runs a cell with its zones in network namespaces and, under
// a client-go load of reads, writes and watches through the endpoint, first
// blackholes zone a (nothing it sends arrives, no FIN or RST), then degrades
// it (200 ms latency and 20% loss on everything it sends). Each time the
// cell's zone probes must find the zone impaired and evacuate it within 10 s
// (endpoint drained, etcd's and the controllers' leadership elsewhere), no
// request may fail once it is evacuated, watches must carry on, and clearing
// the fault must bring the zone back once, without flapping.
func TestZoneFaults(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("zone namespaces need root")
	}
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	in.ZoneNamespaces = true
	in.Args = []string{"--apiserver-goaway-chance", "0.02"}
	in.Start(ctx)
	cl := createActive(ctx, t, in, "faulty")
	kc := kubeconfig(ctx, t, in, "faulty")
	ids := waitEtcdHealthy(ctx, t, in, "faulty", nil, time.Time{})

	// Bad input first: clear errors, no fault applied.
	for _, args := range [][]string{
		{"zone", "fault", "d", "--blackhole"}, {"zone", "fault", "a"}, {"zone", "fault", "a", "--cut", "--blackhole"},
		{"zone", "fault", "a", "--latency", "6s"}, {"zone", "fault", "a", "--loss", "101"}, {"zone", "fault", "a", "--blackhole", "--cell", "cell-9"},
	} {
		if _, errOut, err := in.CLI(ctx, args...); err == nil || errOut == "" {
			t.Errorf("%v: err %v, stderr %q; want a refusal", args, err, errOut)
		}
	}

	load := startZoneLoad(ctx, t, kc, 8)
	waitLoadOn(ctx, t, cl.Endpoint, "kube-apiserver-a")

	for _, sc := range []struct {
		name  string
		fault []string
	}{
		{"blackhole", []string{"--blackhole"}},
		{"gray failure", []string{"--latency", "200ms", "--loss", "20"}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			leadFromZoneA(ctx, t, in, "faulty", ids)
			impairedBefore := strings.Count(cellLogAll(t, in), "impaired zones changed")
			before := load.snapshot()
			asked := time.Now()
			if _, errOut, err := in.CLI(ctx, append([]string{"zone", "fault", "a"}, sc.fault...)...); err != nil {
				t.Fatalf("zone fault: %v\n%s", err, errOut)
			}
			// The fault starts when the cell applies it, which the command
			// waited for: within a heartbeat (3 s) of the request.
			faultAt := faultAppliedAt(ctx, t, in, "a")
			t.Logf("the cell applied the fault %s after the request", faultAt.Sub(asked).Round(10*time.Millisecond))
			evacuated := waitEvacuated(ctx, t, in, cl.Endpoint, ids, faultAt)
			logEvacuation(t, in, faultAt)
			atEvac := load.snapshot()
			t.Logf("zone a evacuated %s after the fault; meanwhile %d requests ok, %d failed",
				evacuated.Round(100*time.Millisecond), atEvac.ok-before.ok, atEvac.failed-before.failed)
			if evacuated > 10*time.Second {
				t.Errorf("evacuation took %s, want within 10 s", evacuated)
			}
			// The cell reports an impaired zone at once (a heartbeat on the change).
			err := framework.Eventually(ctx, 5*time.Second, 200*time.Millisecond, func() error {
				out, _, err := in.CLI(ctx, "cell", "list")
				if err != nil || !strings.Contains(out, "a (impaired)") || !strings.Contains(out, "a: ") {
					return fmt.Errorf("cell list does not show the impaired zone and its fault: %v\n%s", err, out)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}

			// Nothing fails once the zone is out, and the watch keeps delivering.
			evacAt := time.Now()
			watched := load.events.Load()
			time.Sleep(10 * time.Second) //nolint:forbidigo // a load window, not a wait for a condition
			after := load.snapshot()
			if n := load.failedSince(evacAt); n > 0 {
				t.Errorf("%d requests that started after the evacuation failed: %v", n, load.lastErrors())
			}
			if load.events.Load() == watched || !load.sawWriteAfter(evacAt) {
				t.Errorf("the watch delivered nothing after the evacuation (events %d → %d)", watched, load.events.Load())
			}
			t.Logf("after the evacuation: %d requests ok, %d failed; the watch saw %d events",
				after.ok-atEvac.ok, after.failed-atEvac.failed, load.events.Load()-watched)

			healAt := time.Now()
			if _, errOut, err := in.CLI(ctx, "zone", "fault", "a", "--clear"); err != nil {
				t.Fatalf("zone fault --clear: %v\n%s", err, errOut)
			}
			back := waitZoneBack(ctx, t, in, cl.Endpoint)
			t.Logf("zone a back in rotation %s after the fault was cleared", back.Round(100*time.Millisecond))
			if n := load.failedSince(healAt); n > 0 {
				t.Errorf("%d requests failed while zone a came back: %v", n, load.lastErrors())
			}
			// No storm: the zone went out once and came back once.
			if n := strings.Count(cellLogAll(t, in), "impaired zones changed") - impairedBefore; n != 2 {
				t.Errorf("zone a changed between impaired and healthy %d times, want 2 (out, back)", n)
			}
			end := load.snapshot()
			t.Logf("%s: %d of %d requests failed over the scenario (%.2f%%)", sc.name, end.failed-before.failed,
				end.ok+end.failed-before.ok-before.failed, 100*float64(end.failed-before.failed)/float64(max(end.ok+end.failed-before.ok-before.failed, 1)))
		})
	}
	total := load.snapshot()
	t.Logf("whole load: %d requests, %d failed (%.2f%%), %d watch events", total.ok+total.failed, total.failed,
		100*float64(total.failed)/float64(max(total.ok+total.failed, 1)), load.events.Load())
	if total.failed*100 >= total.ok+total.failed {
		t.Errorf("%d of %d requests failed, want under 1%%", total.failed, total.ok+total.failed)
	}
}

// waitEvacuated waits until zone a is out: the endpoint drained its API
// server, etcd's leader is elsewhere (etcd's own view from zone b), zone a's
// controllers are stopped, and both controller leases were renewed after the
// fault (only a controller outside the zone can renew them). It returns how
// long that took from faultAt, and logs when each part was first seen.
func waitEvacuated(ctx context.Context, t *testing.T, in *framework.Instance, endpoint string, ids map[string]string, faultAt time.Time) time.Duration {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig(ctx, t, in, "faulty"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 2 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cli := etcdClient(t, in, "faulty", "etcd-b")
	drained := func() error {
		st, err := framework.EndpointBackends(ctx, endpoint)
		if err != nil {
			return err
		}
		if a := st["kube-apiserver-a"]; !a.Draining || a.ActiveConnections != 0 {
			return fmt.Errorf("kube-apiserver-a not drained: %+v", a)
		}
		return nil
	}
	etcdLeader := func() error {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		es, err := cli.Status(sctx, cli.Endpoints()[0])
		if err != nil || strconv.FormatUint(es.Leader, 16) == ids["etcd-a"] || es.Leader == 0 {
			return fmt.Errorf("etcd's leader not out of zone a (%v)", err)
		}
		return nil
	}
	// The processes themselves: the runtime removes a pid file once its
	// process is gone (the cluster's status reports it at the end of a pass).
	logs := filepath.Join(in.DataDir, "cells", "cell-1", "clusters", v1alpha1.Namespace(v1alpha1.DefaultAccount), "faulty", "logs")
	stopped := func() error {
		for _, name := range []string{"kube-controller-manager-a", "kube-scheduler-a"} {
			if _, err := os.Stat(filepath.Join(logs, name+".pid")); err == nil {
				return fmt.Errorf("%s still runs", name)
			}
		}
		return nil
	}
	leases := func() error {
		for _, lease := range []string{"kube-controller-manager", "kube-scheduler"} {
			l, err := cs.CoordinationV1().Leases(metav1.NamespaceSystem).Get(ctx, lease, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if l.Spec.RenewTime == nil || !l.Spec.RenewTime.After(faultAt.Add(time.Second)) {
				return fmt.Errorf("lease %s last renewed at %v, before the fault", lease, l.Spec.RenewTime)
			}
		}
		return nil
	}
	// Each part is polled on its own, so that one slow check (a request
	// that landed on the zone before it was drained) does not delay seeing
	// the others.
	parts := []struct {
		name  string
		check func() error
	}{{"endpoint drained", drained}, {"etcd leader out", etcdLeader}, {"controllers stopped", stopped}, {"leases renewed outside", leases}}
	seen := make([]time.Duration, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Go(func() {
			errs[i] = framework.Eventually(ctx, time.Minute, 100*time.Millisecond, p.check)
			seen[i] = time.Since(faultAt)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("zone a never evacuated: %v\ncell log:\n%s", err, cellLog(t, in))
	}
	var took time.Duration
	for i, p := range parts {
		t.Logf("  %s after %s", p.name, seen[i].Round(100*time.Millisecond))
		took = max(took, seen[i])
	}
	return took
}

// waitZoneBack waits until zone a is back in rotation: its API server takes
// connections again and its controllers run.
func waitZoneBack(ctx context.Context, t *testing.T, in *framework.Instance, endpoint string) time.Duration {
	t.Helper()
	start := time.Now()
	err := framework.Eventually(ctx, 2*time.Minute, 250*time.Millisecond, func() error {
		st, err := framework.EndpointBackends(ctx, endpoint)
		if err != nil {
			return err
		}
		if a := st["kube-apiserver-a"]; a.Draining {
			return fmt.Errorf("kube-apiserver-a still drained: %+v", a)
		}
		c := describe(ctx, t, in, "faulty")
		if len(c.Cellplane.Components) != 11 || conditionTrue(c, v1alpha1.ConditionZoneShifted) {
			return fmt.Errorf("components %d, conditions %+v", len(c.Cellplane.Components), c.Cellplane.Conditions)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("zone a never came back: %v\ncell log:\n%s", err, cellLog(t, in))
	}
	return time.Since(start)
}

func waitLoadOn(ctx context.Context, t *testing.T, endpoint, backend string) {
	t.Helper()
	err := framework.Eventually(ctx, time.Minute, 250*time.Millisecond, func() error {
		st, err := framework.EndpointBackends(ctx, endpoint)
		if err != nil || st[backend].ActiveConnections == 0 {
			return fmt.Errorf("no load on %s yet: %+v (%v)", backend, st, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// evacuationLog picks the cell's log lines that tell how an evacuation went.
var evacuationLog = regexp.MustCompile(`zone impaired|impaired zones changed|stopped process|released a stale|reset connections|leader|backend draining`)

// logEvacuation logs the cell's evacuation steps since the fault, with their
// time from it.
func logEvacuation(t *testing.T, in *framework.Instance, faultAt time.Time) {
	t.Helper()
	for _, line := range strings.Split(cellLogAll(t, in), "\n") {
		ts, _, ok := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if !ok || err != nil || at.Before(faultAt) || !evacuationLog.MatchString(line) {
			continue
		}
		kv := map[string]string{}
		for _, m := range logField.FindAllStringSubmatch(line, -1) {
			kv[m[1]] = strings.Trim(m[2], `"`)
		}
		t.Logf("  +%s %s %s %s", at.Sub(faultAt).Round(10*time.Millisecond), kv["msg"], kv["id"], kv["zone"])
	}
}

// faultAppliedAt reads when cell-1 applied zone's fault from cell list.
func faultAppliedAt(ctx context.Context, t *testing.T, in *framework.Instance, zone string) time.Time {
	t.Helper()
	out, errOut, err := in.CLI(ctx, "cell", "list", "--output", "json")
	if err != nil {
		t.Fatalf("cell list: %v\n%s", err, errOut)
	}
	var list struct {
		Cells []struct {
			Faults []v1alpha1.ZoneFault `json:"faults"`
		} `json:"cells"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Cells) == 0 {
		t.Fatalf("cell list output: %v\n%s", err, out)
	}
	for _, f := range list.Cells[0].Faults {
		if f.Zone == zone && f.AppliedAt != nil {
			return f.AppliedAt.Time
		}
	}
	t.Fatalf("cell list shows no applied fault in zone %s:\n%s", zone, out)
	return time.Time{}
}

// zoneLoad is n clients, each reading and writing ConfigMaps every 100 ms
// with client-go's defaults (its retries included), and one informer
// watching them.
type zoneLoad struct {
	ok, failed, events atomic.Int64

	mu        sync.Mutex
	failures  []time.Time // when each failed request started
	errs      []string
	lastWrite map[string]time.Time // ConfigMap name → when it was written
	seen      map[string]bool
}

type loadCount struct{ ok, failed int64 }

func (l *zoneLoad) snapshot() loadCount { return loadCount{l.ok.Load(), l.failed.Load()} }

func (l *zoneLoad) failedSince(t time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, f := range l.failures {
		if !f.Before(t) {
			n++
		}
	}
	return n
}

func (l *zoneLoad) lastErrors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.errs[max(0, len(l.errs)-5):])
}

// sawWriteAfter reports whether the informer saw an object written after t.
func (l *zoneLoad) sawWriteAfter(t time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, at := range l.lastWrite {
		if at.After(t) && l.seen[name] {
			return true
		}
	}
	return false
}

func (l *zoneLoad) record(start time.Time, err error) {
	if err == nil {
		l.ok.Add(1)
		return
	}
	l.failed.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, start)
	l.errs = append(l.errs, start.Format("15:04:05.000")+" "+err.Error())
}

func startZoneLoad(ctx context.Context, t *testing.T, kc string, n int) *zoneLoad {
	t.Helper()
	ctx, stop := context.WithCancel(ctx)
	l := &zoneLoad{lastWrite: map[string]time.Time{}, seen: map[string]bool{}}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		stop()
		wg.Wait()
	})
	newClient := func() kubernetes.Interface {
		cfg, err := clientcmd.BuildConfigFromFlags("", kc)
		if err != nil {
			t.Fatal(err)
		}
		cfg.QPS, cfg.Burst = 100, 100
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	factory := informers.NewSharedInformerFactoryWithOptions(newClient(), 0, informers.WithNamespace("default"))
	inf := factory.Core().V1().ConfigMaps().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			l.events.Add(1)
			if cm, ok := obj.(*corev1.ConfigMap); ok {
				l.mu.Lock()
				l.seen[cm.Name] = true
				l.mu.Unlock()
			}
		},
		UpdateFunc: func(_, _ any) { l.events.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	wg.Go(func() { <-ctx.Done(); factory.Shutdown() })
	for i := range n {
		cs := newClient()
		wg.Go(func() {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for seq := 0; ; seq++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				start := time.Now()
				var err error
				if seq%2 == 0 {
					_, err = cs.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{Limit: 1})
				} else {
					name := fmt.Sprintf("load-%d-%d", i, seq)
					rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					_, err = cs.CoreV1().ConfigMaps("default").Create(rctx, &corev1.ConfigMap{
						ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"at": start.String()}}, metav1.CreateOptions{})
					cancel()
					if err == nil {
						l.mu.Lock()
						l.lastWrite[name] = start
						l.mu.Unlock()
					}
				}
				if ctx.Err() != nil {
					return
				}
				l.record(start, err)
			}
		})
	}
	return l
}
