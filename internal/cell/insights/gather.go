package insights

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/addoncatalog"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/insights"
)

// Sources gathers from the cluster itself: each API server's /metrics
// (directly, not through the load balancer: the metrics are per server), the
// audit logs the API servers write into the cluster's log directory, the
// nodes as an API server lists them, and the add-ons in the cell's store.
type Sources struct {
	Client client.Client // the cell's store
	Layout tenant.Layout
}

// Gather reads every source; it fails only when no API server's metrics and
// no audit log could be read, since then nothing is known of API use.
func (s *Sources) Gather(ctx context.Context, c *v1alpha1.Cluster, now time.Time) (Gathered, error) {
	p := s.Layout.Addresses(c)
	pr, err := controlplane.NewProber(p)
	if err != nil {
		return Gathered{}, fmt.Errorf("preparing to ask the API servers: %w", err)
	}
	defer pr.Close()
	g := Gathered{Usage: insights.NewUsage()}
	servers := p.Members(controlplane.KindAPIServer)
	read := 0
	for _, m := range servers {
		if err := s.metrics(ctx, pr, m, g.Usage); err != nil {
			g.Partial = append(g.Partial, m.Name()+" metrics ("+err.Error()+")")
		} else {
			read++
		}
		n, err := s.audit(p, m, g.Usage, now.Add(-insights.Window))
		if err != nil {
			g.Partial = append(g.Partial, m.Name()+" audit log ("+err.Error()+")")
		}
		if n > 0 {
			read++
		}
	}
	if read == 0 {
		return g, fmt.Errorf("no API server's metrics or audit log could be read: %v", g.Partial)
	}
	g.Nodes, g.NodesErr = nodes(ctx, pr, servers)
	g.Addons, err = s.addons(ctx, c)
	if err != nil {
		return g, err
	}
	return g, nil
}

func (s *Sources) metrics(ctx context.Context, pr *controlplane.Prober, m controlplane.Member, u *insights.Usage) error {
	body, err := pr.Read(ctx, m, "/metrics")
	if err != nil {
		return err
	}
	return u.AddMetrics(bytes.NewReader(body))
}

// audit reads the member's audit log and the backups the API server rotated
// it into (audit-<member>-<time>.log, lumberjack's naming); it returns how
// many files it read.
func (s *Sources) audit(p *controlplane.Plan, m controlplane.Member, u *insights.Usage, since time.Time) (int, error) {
	base := filepath.Join(p.LogDir(), "audit-"+m.Name())
	files, err := filepath.Glob(base + "-*.log")
	if err != nil {
		return 0, err
	}
	files = append(files, base+".log")
	n := 0
	for _, name := range files {
		f, err := os.Open(name) //nolint:gosec // G304: the cluster's own audit logs, in the cell's directory
		if errors.Is(err, os.ErrNotExist) {
			continue // not written yet, or rotated away meanwhile
		}
		if err != nil {
			return n, err
		}
		err = u.AddAudit(f, since)
		_ = f.Close() // read-only: a failed close loses nothing
		if err != nil {
			return n, fmt.Errorf("%s: %w", filepath.Base(name), err)
		}
		n++
	}
	return n, nil
}

// nodeList is the part of a NodeList read here.
type nodeList struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Status struct {
			NodeInfo struct {
				KubeletVersion string `json:"kubeletVersion"`
			} `json:"nodeInfo"`
		} `json:"status"`
	} `json:"items"`
}

// nodes lists the nodes from the first API server that answers.
func nodes(ctx context.Context, pr *controlplane.Prober, servers []controlplane.Member) ([]insights.Node, error) {
	err := errors.New("the cluster has no API server")
	for _, m := range servers {
		var body []byte
		if body, err = pr.Read(ctx, m, "/api/v1/nodes"); err != nil {
			continue
		}
		var l nodeList
		if err = json.Unmarshal(body, &l); err != nil {
			return nil, fmt.Errorf("reading the node list: %w", err)
		}
		out := make([]insights.Node, 0, len(l.Items))
		for _, it := range l.Items {
			out = append(out, insights.Node{Name: it.Metadata.Name, KubeletVersion: it.Status.NodeInfo.KubeletVersion})
		}
		return out, nil
	}
	return nil, err
}

// addons lists the cluster's add-ons, as the cell mirrors them.
func (s *Sources) addons(ctx context.Context, c *v1alpha1.Cluster) ([]insights.Addon, error) {
	var l v1alpha1.AddonList
	if err := s.Client.List(ctx, &l, client.InNamespace(c.Namespace), client.MatchingLabels{v1alpha1.LabelCluster: c.Name}); err != nil {
		return nil, fmt.Errorf("listing add-ons: %w", err)
	}
	out := make([]insights.Addon, 0, len(l.Items))
	for _, a := range l.Items {
		out = append(out, insights.Addon{Name: a.Spec.AddonName, Version: a.Spec.AddonVersion})
	}
	return out, nil
}

// Catalogue lists the versions of an add-on that addoncatalog offers for a
// minor, newest first.
func Catalogue(addon, minor string) []string {
	var out []string
	for _, v := range addoncatalog.Versions(addon, minor) {
		out = append(out, v.Version)
	}
	return out
}
