package cell

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/internal/cell/zones"
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
// paths of the zones' namespaces in p.zoneNS, nil on loopback. On loopback there is no
// zone network to impair (every zone shares the host's), and a single slow
// or replaced component is the process supervisor's business, not a reason
// to evacuate a zone, so nothing is probed there.
func (p *proc) startZones() error {
	faults := filepath.Join(p.dir, "zone-faults.json")
	if !p.namespaces {
		zn, err := zones.NewNetwork(nil, nil, faults, p.log)
		p.zoneNet = zn
		return err
	}
	cells, err := p.storeClient()
	if err != nil {
		return err
	}
	if err := zonenet.Supported(); err != nil {
		return fmt.Errorf("%s: zone namespaces: %w", p.name, err)
	}
	net := zonenet.New(zonenet.Options{Cell: p.addrs, Log: p.log})
	if err := net.Ensure(); err != nil {
		return fmt.Errorf("%s: setting up zone namespaces: %w", p.name, err)
	}
	canaries, err := net.StartCanaries()
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	p.zoneNS = map[string]string{}
	for _, z := range ipam.Zones {
		p.zoneNS[z] = net.Path(z)
	}
	p.zoneNetClose = func() {
		canaries.Close()
		if err := net.Close(); err != nil {
			p.log.Warn("closing zone network", "err", err)
		}
	}
	targets := cachedTargets(cells, p.addrs, canaries.Addr)
	monitor := zonehealth.New(zoneProbeConfig, targets, zonehealth.TLSProbe(zoneProbeConfig.WithDefaults().Timeout), p.log.With("component", "zone-health"))
	if p.zoneNet, err = zones.NewNetwork(net, monitor, faults, p.log); err != nil {
		p.zoneNetClose()
		return err
	}
	return nil
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
			last, read = zones.Targets(ctx, cells, plan), time.Now()
			cancel()
			for zone, addr := range canaries {
				last = append(last, zonehealth.Target{Zone: zone, Name: "canary-" + zone, Addr: addr})
			}
		}
		return last
	}
}
