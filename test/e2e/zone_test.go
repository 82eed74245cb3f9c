package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/test/framework"
)

// TestZoneShift shifts zone a out of the cell under steady client load: the
// endpoint drains zone a's API server, zone a's controllers stop so that their
// leadership moves to zone b, and etcd's leader (put in zone a first) moves out.
// Then the zone comes back.
func TestZoneShift(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	in.Args = []string{"--apiserver-goaway-chance", "0.02"}
	in.Start(ctx)
	cl := createActive(ctx, t, in, "zonal")
	kc := kubeconfig(ctx, t, in, "zonal")
	ids := waitEtcdHealthy(ctx, t, in, "zonal", nil, time.Time{})
	leadFromZoneA(ctx, t, in, "zonal", ids)

	const clients = 10
	s := startSteadyClients(ctx, t, kc, clients)
	err := framework.Eventually(ctx, time.Minute, 250*time.Millisecond, func() error {
		st, err := framework.EndpointBackends(ctx, cl.Endpoint)
		if err != nil || st["kube-apiserver-a"].ActiveConnections == 0 {
			return fmt.Errorf("no load on kube-apiserver-a yet: %+v (%v)", st, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Bad input first: clear errors, nothing shifted.
	for _, args := range [][]string{{"zone", "shift", "d"}, {"zone", "shift", "a", "--cell", "cell-9"}, {"zone", "shift"}} {
		if _, errOut, err := in.CLI(ctx, args...); err == nil || errOut == "" {
			t.Errorf("%v: err %v, stderr %q; want a refusal", args, err, errOut)
		}
	}

	okBefore, failedBefore := s.ok.Load(), s.failed.Load()
	shiftedAt := time.Now()
	if _, errOut, err := in.CLI(ctx, "zone", "shift", "a"); err != nil {
		t.Fatalf("zone shift a: %v\n%s", err, errOut)
	}
	var evacuated time.Duration
	err = framework.Eventually(ctx, time.Minute, 100*time.Millisecond, func() error {
		st, err := framework.EndpointBackends(ctx, cl.Endpoint)
		if err != nil {
			return err
		}
		if a := st["kube-apiserver-a"]; !a.Draining || a.ActiveConnections != 0 {
			return fmt.Errorf("kube-apiserver-a not drained: %+v", a)
		}
		c := describe(ctx, t, in, "zonal")
		if e := c.Cellplane.Etcd; e == nil || e.ObservedAt.Time().Before(shiftedAt) || memberZone(e, e.Leader) != "b" && memberZone(e, e.Leader) != "c" {
			return fmt.Errorf("etcd's leader not out of zone a: %+v", e)
		}
		for _, comp := range c.Cellplane.Components {
			if comp.Name == "kube-controller-manager-a" || comp.Name == "kube-scheduler-a" {
				return fmt.Errorf("%s still runs", comp.Name)
			}
		}
		if !conditionTrue(c, v1alpha1.ConditionZoneShifted) || !conditionTrue(c, v1alpha1.ConditionReady) {
			return fmt.Errorf("conditions %+v", c.Cellplane.Conditions)
		}
		evacuated = time.Since(shiftedAt)
		return nil
	})
	if err != nil {
		t.Fatalf("zone a never evacuated: %v\ncell log:\n%s", err, cellLog(t, in))
	}
	ok, failed := s.ok.Load()-okBefore, s.failed.Load()-failedBefore
	t.Logf("zone a evacuated %s after the shift; %d requests ok and %d failed meanwhile (%.2f%%)",
		evacuated.Round(100*time.Millisecond), ok, failed, 100*float64(failed)/float64(max(ok+failed, 1)))
	if evacuated > 10*time.Second {
		t.Errorf("evacuation took %s, want within 10 s", evacuated)
	}
	if failed*100 > ok+failed {
		t.Errorf("%d of %d requests failed during the evacuation, want under 1%%", failed, ok+failed)
	}
	// Controller leadership is held from zone b: the leases keep being renewed
	// with zone a's controllers stopped.
	for _, lease := range []string{"kube-controller-manager", "kube-scheduler"} {
		err := framework.Eventually(ctx, time.Minute, 500*time.Millisecond, func() error {
			out, err := kubectl(ctx, kc, "-n", "kube-system", "get", "lease", lease, "-o", "jsonpath={.spec.renewTime}")
			if err != nil {
				return err
			}
			renewed, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(out))
			if err != nil || !renewed.After(shiftedAt.Add(time.Second)) {
				return fmt.Errorf("lease %s renewed at %q", lease, out)
			}
			return nil
		})
		if err != nil {
			t.Errorf("no controller leads from zone b: %v", err)
		}
	}
	if out, _, err := in.CLI(ctx, "cell", "list"); err != nil || !strings.Contains(out, "cell-1") || !strings.Contains(out, " a\n") && !strings.Contains(out, "  a") {
		t.Errorf("cell list does not show the shift: %v\n%s", err, out)
	}

	backAt := time.Now()
	if _, errOut, err := in.CLI(ctx, "zone", "shift", "a", "--undo"); err != nil {
		t.Fatalf("zone shift a --undo: %v\n%s", err, errOut)
	}
	err = framework.Eventually(ctx, 2*time.Minute, 250*time.Millisecond, func() error {
		st, err := framework.EndpointBackends(ctx, cl.Endpoint)
		if err != nil {
			return err
		}
		if a := st["kube-apiserver-a"]; a.Draining || a.ActiveConnections == 0 {
			return fmt.Errorf("no connections back on kube-apiserver-a: %+v", a)
		}
		c := describe(ctx, t, in, "zonal")
		if _, err := pidsOf(c); err != nil || len(c.Cellplane.Components) != 11 || conditionTrue(c, v1alpha1.ConditionZoneShifted) {
			return fmt.Errorf("components %d (%v), conditions %+v", len(c.Cellplane.Components), err, c.Cellplane.Conditions)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("zone a never came back: %v", err)
	}
	t.Logf("zone a back, with connections again, %s after the undo; requests ok %d, failed %d in all",
		time.Since(backAt).Round(100*time.Millisecond), s.ok.Load(), s.failed.Load())
}

func memberZone(e *eks.EtcdHealth, name string) string {
	for _, m := range e.Members {
		if m.Name == name {
			return m.Zone
		}
	}
	return ""
}

// leadFromZoneA moves etcd's leadership to etcd-a, so that shifting zone a has
// a leader to move.
func leadFromZoneA(ctx context.Context, t *testing.T, in *framework.Instance, name string, ids map[string]string) {
	t.Helper()
	id, err := strconv.ParseUint(ids["etcd-a"], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	err = framework.Eventually(ctx, 30*time.Second, 500*time.Millisecond, func() error {
		e := describe(ctx, t, in, name).Cellplane.Etcd
		if e.Leader == "etcd-a" {
			return nil
		}
		cli := etcdClient(t, in, name, e.Leader)
		_, err := cli.MoveLeader(ctx, id)
		if err == nil {
			err = fmt.Errorf("moved leadership from %s to etcd-a; waiting for status", e.Leader)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
