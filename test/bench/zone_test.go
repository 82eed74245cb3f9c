package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cellplane/cellplane/test/framework"
)

// BenchmarkZoneEvacuation injects each fault into zone a of a cell whose
// zones live in network namespaces and times, from the injection, when the
// cell's probes find the zone impaired, when the endpoint has drained the
// zone's API server, and when both controller leases are renewed after the
// fault (only a controller outside the zone can renew them); then, after the
// fault is cleared, when the zone is back in rotation.
func BenchmarkZoneEvacuation(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("zone namespaces need root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	in := framework.NewInstance(b, bins)
	in.ZoneNamespaces = true
	in.Start(ctx)
	kc := activeCluster(ctx, b, in, "evac")
	cs := clientset(b, kc, "")
	endpoint := "https://" + cs.RESTClient().Get().URL().Host
	b.ResetTimer()
	for _, f := range []struct {
		name string
		args []string
	}{{"blackhole", []string{"--blackhole"}}, {"degrade", []string{"--latency", "200ms", "--loss", "20"}}} {
		if _, errOut, err := in.CLI(ctx, append([]string{"zone", "fault", "a"}, f.args...)...); err != nil {
			b.Fatalf("zone fault: %v\n%s", err, errOut)
		}
		at := cellZones(ctx, b, in).appliedAt("a") // the command waits until the cell applied it
		var impaired, drained, leases time.Duration
		err := framework.Eventually(ctx, 2*time.Minute, 50*time.Millisecond, func() error {
			if impaired == 0 && cellZones(ctx, b, in).impaired("a") {
				impaired = time.Since(at)
			}
			if drained == 0 {
				if st, err := framework.EndpointBackends(ctx, endpoint); err == nil && st["kube-apiserver-a"].Draining && st["kube-apiserver-a"].ActiveConnections == 0 {
					drained = time.Since(at)
				}
			}
			if leases == 0 && leasesRenewedAfter(ctx, cs, at.Add(time.Second)) {
				leases = time.Since(at)
			}
			if impaired == 0 || drained == 0 || leases == 0 {
				return fmt.Errorf("impaired %s, drained %s, leases %s", impaired, drained, leases)
			}
			return nil
		})
		if err != nil {
			b.Fatalf("%s: zone a never evacuated: %v", f.name, err)
		}
		b.ReportMetric(impaired.Seconds(), f.name+"-impaired-s")
		b.ReportMetric(drained.Seconds(), f.name+"-drained-s")
		b.ReportMetric(max(drained, leases).Seconds(), f.name+"-evacuated-s")

		at = time.Now()
		if _, errOut, err := in.CLI(ctx, "zone", "fault", "a", "--clear"); err != nil {
			b.Fatalf("zone fault --clear: %v\n%s", err, errOut)
		}
		err = framework.Eventually(ctx, 2*time.Minute, 100*time.Millisecond, func() error {
			st, err := framework.EndpointBackends(ctx, endpoint)
			if err != nil || st["kube-apiserver-a"].Draining {
				return fmt.Errorf("kube-apiserver-a still drained (%v)", err)
			}
			return nil
		})
		if err != nil {
			b.Fatalf("%s: zone a never came back: %v", f.name, err)
		}
		b.ReportMetric(time.Since(at).Seconds(), f.name+"-back-s")
	}
}

// zoneView is cell-1's zone health and faults, from cell list.
type zoneView struct {
	Zones []struct {
		Zone     string `json:"zone"`
		Impaired bool   `json:"impaired"`
	} `json:"zones"`
	Faults []struct {
		Zone      string    `json:"zone"`
		AppliedAt time.Time `json:"appliedAt"`
	} `json:"faults"`
}

func cellZones(ctx context.Context, b *testing.B, in *framework.Instance) zoneView {
	out, errOut, err := in.CLI(ctx, "cell", "list", "--output", "json")
	if err != nil {
		b.Fatalf("cell list: %v\n%s", err, errOut)
	}
	var list struct{ Cells []zoneView }
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Cells) == 0 {
		b.Fatalf("cell list output: %v\n%s", err, out)
	}
	return list.Cells[0]
}

func (v zoneView) impaired(zone string) bool {
	for _, z := range v.Zones {
		if z.Zone == zone && z.Impaired {
			return true
		}
	}
	return false
}

func (v zoneView) appliedAt(zone string) time.Time {
	for _, f := range v.Faults {
		if f.Zone == zone {
			return f.AppliedAt
		}
	}
	return time.Now()
}

// leasesRenewedAfter reports whether both controller leases were renewed
// after t.
func leasesRenewedAfter(ctx context.Context, cs *kubernetes.Clientset, t time.Time) bool {
	for _, name := range []string{"kube-controller-manager", "kube-scheduler"} {
		l, err := cs.CoordinationV1().Leases(metav1.NamespaceSystem).Get(ctx, name, metav1.GetOptions{})
		if err != nil || l.Spec.RenewTime == nil || !l.Spec.RenewTime.After(t) {
			return false
		}
	}
	return true
}
