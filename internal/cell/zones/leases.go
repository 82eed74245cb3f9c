package zones

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
)

// Controller leadership leaves a shifted zone by stopping the zone's
// controllers; what they leave behind is their lease, which the others only
// take once it expires (15 s after the last renewal, kube-controller-manager's
// and kube-scheduler's default). A controller in an impaired zone cannot hand
// it back. The lease mover does: it clears the holder of a lease nobody has
// renewed for leaseStaleAfter, so a controller outside the zone takes it at
// its next try (every 2 s).
const (
	// leaseStaleAfter is twice the controllers' retry period: a live leader
	// renews at least once in it.
	leaseStaleAfter = 4 * time.Second
	// leaseWatchFor is how long after a zone goes out the mover looks.
	leaseWatchFor = 30 * time.Second
	leasePoll     = 500 * time.Millisecond
	leaseMovers   = 8
)

var controllerLeases = []string{"kube-controller-manager", "kube-scheduler"}

// moveLeases runs one mover per ready cluster, a few at a time, in the
// background: a later shift starts its own.
func (e *Evacuator) moveLeases(ctx context.Context, ready []clusterPlan) {
	sem := make(chan struct{}, leaseMovers)
	for _, cp := range ready {
		c, p := cp.c, cp.p
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			log := e.Logger.With("cluster", c.Namespace+"/"+c.Name)
			if err := watchLeases(ctx, log, c, p); err != nil {
				log.Warn("moving controller leadership out of the shifted zone", "err", err)
			}
		}()
	}
}

// watchLeases releases stale controller leases of one cluster until both
// are held by a controller that renews them, or leaseWatchFor passes.
func watchLeases(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	cs, err := adminClientset(c, p)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, leaseWatchFor)
	defer cancel()
	since := time.Now()
	t := time.NewTicker(leasePoll)
	defer t.Stop()
	for {
		done := true
		for _, name := range controllerLeases {
			renewed, err := releaseIfStale(ctx, log, cs, name)
			if err != nil && ctx.Err() == nil {
				log.Debug("reading controller lease", "lease", name, "err", err)
			}
			done = done && err == nil && renewed.After(since)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// releaseIfStale clears the holder of a lease nobody renewed for
// leaseStaleAfter; the update carries the lease's resourceVersion, so it
// never undoes a renewal that came in between. It returns when the lease was
// last renewed.
func releaseIfStale(ctx context.Context, log *slog.Logger, cs kubernetes.Interface, name string) (time.Time, error) {
	leases := cs.CoordinationV1().Leases(metav1.NamespaceSystem)
	l, err := leases.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return time.Time{}, err
	}
	renewed := leaseRenewed(l)
	holder := ptr.Deref(l.Spec.HolderIdentity, "")
	if holder == "" || time.Since(renewed) < leaseStaleAfter {
		return renewed, nil
	}
	l.Spec.HolderIdentity = ptr.To("")
	if _, err := leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
		return renewed, fmt.Errorf("releasing lease %s: %w", name, err)
	}
	log.Info("released a stale controller lease so that a controller outside the shifted zone takes over",
		"lease", name, "holder", holder, "renewed", renewed)
	return renewed, nil
}

func leaseRenewed(l *coordinationv1.Lease) time.Time {
	if l.Spec.RenewTime != nil {
		return l.Spec.RenewTime.Time
	}
	if l.Spec.AcquireTime != nil {
		return l.Spec.AcquireTime.Time
	}
	return time.Time{}
}

// adminClientset reaches the cluster through its endpoint with the admin
// kubeconfig the cell publishes, with short timeouts: the mover retries every
// half second.
func adminClientset(c *v1alpha1.Cluster, p *controlplane.Plan) (kubernetes.Interface, error) {
	kc, err := tenant.AdminKubeconfig(c, p)
	if err != nil {
		return nil, err
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		return nil, fmt.Errorf("admin kubeconfig: %w", err)
	}
	cfg.Timeout, cfg.UserAgent = 2*time.Second, "cellplane-lease-mover"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	return cs, nil
}
