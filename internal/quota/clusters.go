package quota

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// DefaultMaxClusters is how many clusters an account may have in the region
// unless the operator set another limit on it: EKS's default quota.
const DefaultMaxClusters = 100

// MaxClustersLimit bounds the per-account override an operator may set.
const MaxClustersLimit = 100000

// pendingExpiry is how long a stored create is counted from its reservation
// when the name index never shows it (it was deleted before the index saw it,
// or the index is stuck): long past the index's normal lag of milliseconds.
const pendingExpiry = time.Minute

// Index is what the quota reads of the clusters stored: the regional API's
// name index, kept current by the region cache.
type Index interface {
	Has(key client.ObjectKey) bool
	Count(namespace string) int
}

// Exceeded is the error of a create that would take an account past its
// limit; it matches errdefs.ErrLimitExceeded.
type Exceeded struct {
	Account     string
	Used, Limit int
}

func (e *Exceeded) Error() string {
	return fmt.Sprintf("account %s has %d clusters and may have at most %d", e.Account, e.Used, e.Limit)
}

func (e *Exceeded) Unwrap() error { return errdefs.ErrLimitExceeded }

// Clusters enforces the clusters-per-account limit. A create reserves its
// slot under one lock, counting the clusters stored plus the creates still
// under way, so two concurrent creates cannot both take the last slot. The
// count comes from the name index (the region cache) when there is one, from
// a live list otherwise. The regional API is the only writer of Cluster
// objects in the region, so its lock is the quota's lock: a second API
// process on the same store would need a store-side counter instead.
type Clusters struct {
	index      Index
	store      client.Reader
	defaultMax int
	log        *slog.Logger

	mu      sync.Mutex
	pending map[string]map[string]pendingCreate // namespace → object name → create
}

// pendingCreate is a create between its reservation and the moment the name
// index shows its cluster.
type pendingCreate struct {
	stored bool      // the store holds the cluster; counted until the index shows it
	since  time.Time // when it was stored
}

// NewClusters returns the quota of clusters per account. index, when not
// nil, counts the stored clusters; otherwise store is listed on every create.
func NewClusters(index Index, store client.Reader, defaultMax int, log *slog.Logger) *Clusters {
	return &Clusters{index: index, store: store, defaultMax: defaultMax, log: log, pending: map[string]map[string]pendingCreate{}}
}

// Reserve takes a slot for want in its account, or refuses with *Exceeded
// when the account has none left. ns is the account's namespace as read (nil
// before its first cluster). The caller must call the returned function with
// whether the cluster was stored.
func (q *Clusters) Reserve(ctx context.Context, ns *corev1.Namespace, want *v1alpha1.Cluster) (func(stored bool), error) {
	limit := q.limitOf(ns)
	q.mu.Lock()
	defer q.mu.Unlock()
	n, err := q.count(ctx, want.Namespace)
	if err != nil {
		return nil, err
	}
	if n >= limit {
		return nil, &Exceeded{Account: want.Labels[v1alpha1.LabelAccount], Used: n, Limit: limit}
	}
	p := q.pending[want.Namespace]
	if p == nil {
		p = map[string]pendingCreate{}
		q.pending[want.Namespace] = p
	}
	p[want.Name] = pendingCreate{}
	return func(stored bool) { q.release(want.Namespace, want.Name, stored) }, nil
}

// release ends a reservation: a create that stored nothing frees its slot at
// once; a stored one stays counted until the index shows it.
func (q *Clusters) release(namespace, name string, stored bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !stored {
		delete(q.pending[namespace], name)
		return
	}
	q.pending[namespace][name] = pendingCreate{stored: true, since: time.Now()}
}

// count is the account's stored clusters and pending creates, each once.
// Called with q.mu held.
func (q *Clusters) count(ctx context.Context, namespace string) (int, error) {
	has, n, err := q.stored(ctx, namespace)
	if err != nil {
		return 0, err
	}
	for name, p := range q.pending[namespace] {
		switch {
		case has(name) && p.stored:
			delete(q.pending[namespace], name) // the index has it: counted there from now on
		case has(name):
			// A create of a name that exists: it will adopt or be refused, and
			// takes no slot of its own.
		case p.stored && time.Since(p.since) > pendingExpiry:
			delete(q.pending[namespace], name)
		default:
			n++
		}
	}
	return n, nil
}

// stored returns the account's stored clusters: a membership test and a count.
func (q *Clusters) stored(ctx context.Context, namespace string) (func(string) bool, int, error) {
	if q.index != nil {
		return func(name string) bool { return q.index.Has(client.ObjectKey{Namespace: namespace, Name: name}) }, q.index.Count(namespace), nil
	}
	var list v1alpha1.ClusterList
	if err := q.store.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, 0, fmt.Errorf("counting clusters in %s: %w", namespace, err)
	}
	names := make(map[string]bool, len(list.Items))
	for _, c := range list.Items {
		names[c.Name] = true
	}
	return func(name string) bool { return names[name] }, len(names), nil
}

// limitOf is the account's limit: the operator's override on its namespace,
// or the default. An override that does not parse (edited by hand) is logged
// and the default applies.
func (q *Clusters) limitOf(ns *corev1.Namespace) int {
	if ns == nil || ns.Annotations[v1alpha1.AnnotationMaxClusters] == "" {
		return q.defaultMax
	}
	v := ns.Annotations[v1alpha1.AnnotationMaxClusters]
	n, err := ParseMaxClusters(v)
	if err != nil {
		q.log.Warn("ignoring the account's cluster limit", "namespace", ns.Name, "error", err)
		return q.defaultMax
	}
	return n
}

// ParseMaxClusters reads a per-account cluster limit, as the operator sets it.
func ParseMaxClusters(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > MaxClustersLimit {
		return 0, fmt.Errorf("%w: the cluster limit must be a whole number from 0 to %d; got %q", errdefs.ErrInvalidParameter, MaxClustersLimit, v)
	}
	return n, nil
}
