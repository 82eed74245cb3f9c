package service

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cellctl "github.com/cellplane/cellplane/internal/cell"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/zonehealth"
	"github.com/cellplane/cellplane/internal/zonenet"
)

// zoneProbeConfig is the zone monitor's judgement. A probe is a TCP connect
// and a TLS handshake to an etcd member or API server, two round trips: on
// loopback they take about a millisecond and, on a loaded two-core machine,
// now and then a hundred, so only a quarter of a second counts as slow. A
// round lasts as long as its slowest probe, so a blackholed zone makes rounds
// of Timeout: five bad ones of the last eight take about 2.5 s, leaving most
// of the 10 s an evacuation may take to the evacuation itself. Healing takes
// 40 good rounds in a row (10 s), so a flapping zone stays out.
var zoneProbeConfig = zonehealth.Config{
	Interval: 250 * time.Millisecond, Timeout: 500 * time.Millisecond, SlowAfter: 250 * time.Millisecond,
	Window: 8, ImpairAfter: 5, HealAfter: 40,
}

// zoneTargetsRefresh is how often the monitor's list of targets is read
// from the cell's store; clusters come and go far more slowly than probes.
const zoneTargetsRefresh = 5 * time.Second

// startZones sets up the cell's zone network when the data directory asked
// for zone namespaces: the namespaces, the faults saved last time applied
// again, each zone's canary and the zone health monitor. It returns the
// paths of the zones' namespaces, nil on loopback. On loopback there is no
// zone network to impair (every zone shares the host's), and a single slow
// or replaced component is the process supervisor's business, not a reason
// to evacuate a zone, so nothing is probed there.
func (cp *cellProcess) startZones(namespaces bool, cells client.Reader) (map[string]string, error) {
	if !namespaces {
		zn, err := cellctl.NewZoneNetwork(nil, nil, filepath.Join(cp.cell.dir, "zone-faults.json"), cp.log)
		cp.zoneNet = zn
		return nil, err
	}
	if err := zonenet.Supported(); err != nil {
		return nil, fmt.Errorf("%s: zone namespaces: %w", cp.cell.name, err)
	}
	net := zonenet.New(zonenet.Options{Cell: cp.cell.plan, Log: cp.log})
	if err := net.Ensure(); err != nil {
		return nil, fmt.Errorf("%s: setting up zone namespaces: %w", cp.cell.name, err)
	}
	canaries, err := net.StartCanaries()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cp.cell.name, err)
	}
	paths := map[string]string{}
	for _, z := range ipam.Zones {
		paths[z] = net.Path(z)
	}
	cp.zoneNetClose = func() {
		canaries.Close()
		if err := net.Close(); err != nil {
			cp.log.Warn("closing zone network", "err", err)
		}
	}
	targets := cachedTargets(cells, cp.cell.plan, canaries.Addr)
	monitor := zonehealth.New(zoneProbeConfig, targets, zonehealth.TLSProbe(zoneProbeConfig.WithDefaults().Timeout), cp.log.With("component", "zone-health"))
	zn, err := cellctl.NewZoneNetwork(net, monitor, filepath.Join(cp.cell.dir, "zone-faults.json"), cp.log)
	if err != nil {
		cp.zoneNetClose()
		return nil, err
	}
	cp.zoneNet = zn
	return paths, nil
}

// cachedTargets is the monitor's source: each zone's canary and the cell's
// serving members, read again every zoneTargetsRefresh.
func cachedTargets(cells client.Reader, plan ipam.Cell, canaries map[string]string) zonehealth.Source {
	var mu sync.Mutex
	var last []zonehealth.Target
	var read time.Time
	return func() []zonehealth.Target {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(read) >= zoneTargetsRefresh {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			last, read = cellctl.ZoneTargets(ctx, cells, plan), time.Now()
			cancel()
			for zone, addr := range canaries {
				last = append(last, zonehealth.Target{Zone: zone, Name: "canary-" + zone, Addr: addr})
			}
		}
		return last
	}
}
