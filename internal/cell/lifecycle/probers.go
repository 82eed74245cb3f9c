package lifecycle

import (
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/cellplane/cellplane/internal/controlplane"
)

// probers keeps one Prober per cluster, so polling a cluster while it comes up
// costs no new TLS handshakes.
type probers struct{ m sync.Map } // cluster UID → *controlplane.Prober

func (ps *probers) get(uid types.UID, p *controlplane.Plan) (*controlplane.Prober, error) {
	if pr, ok := ps.m.Load(uid); ok {
		return pr.(*controlplane.Prober), nil
	}
	pr, err := controlplane.NewProber(p)
	if err != nil {
		return nil, fmt.Errorf("preparing health checks: %w", err)
	}
	actual, _ := ps.m.LoadOrStore(uid, pr)
	return actual.(*controlplane.Prober), nil
}

func (ps *probers) close(uid types.UID) {
	if pr, ok := ps.m.LoadAndDelete(uid); ok {
		pr.(*controlplane.Prober).Close()
	}
}
