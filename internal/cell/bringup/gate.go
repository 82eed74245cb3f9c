package bringup

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// AutoSlots is the most bring-ups a machine of cpus cores runs at once: one
// per core, at least two. Beyond the first, a bring-up starts only while the
// cores have room (BusyCeiling), so the slots are a cap, not a target.
func AutoSlots(cpus int) int {
	return max(2, cpus)
}

// BusyCeiling is the share of the machine's CPU time above which no second
// bring-up starts beside a running one: a bring-up spends much of its time
// waiting (etcd forming, leader elections, health checks), and the next one
// fills those gaps, but not the seconds when the API servers bootstrap and
// take every core.
const BusyCeiling = 0.8

// Settle is how long after one admission the gate waits before judging the
// machine's load for the next: the new bring-up's processes need that long
// to show in the CPU meter.
const Settle = 2 * time.Second

// Meter says how busy the machine's cores are (CPUMeter).
type Meter interface {
	Busy() (share float64, ok bool)
}

// Config configures a Gate.
type Config struct {
	// Slots is the most bring-ups at once, at least one.
	Slots int
	// Meter, when set, holds back every bring-up beyond the first while the
	// machine is busier than BusyCeiling or an admission is younger than
	// Settle. Nil admits up to Slots regardless of load.
	Meter Meter
	// Lister reads the cell's clusters (those Scope selects) once, on the
	// first Admit, to count the bring-ups admitted before a restart.
	Lister client.Reader
	Scope  []client.ListOption
}

// Gate admits bring-ups up to its number of slots, oldest first. It is safe
// for concurrent use by the cell's reconcile workers. A nil Gate admits
// every bring-up at once.
type Gate struct {
	cfg  Config
	wake chan event.GenericEvent
	now  func() time.Time

	mu        sync.Mutex
	seeded    bool
	lastAdmit time.Time
	running   map[types.UID]bool
	waiting   map[types.UID]waiter
}

type waiter struct {
	key      client.ObjectKey
	created  metav1.Time
	queuedAt metav1.Time
}

// NewGate returns a gate for cfg.
func NewGate(cfg Config) *Gate {
	cfg.Slots = max(1, cfg.Slots)
	return &Gate{cfg: cfg, wake: make(chan event.GenericEvent, 64), now: time.Now,
		running: map[types.UID]bool{}, waiting: map[types.UID]waiter{}}
}

// Slots is how many bring-ups run at once.
func (g *Gate) Slots() int { return g.cfg.Slots }

// Wakes delivers the cluster at the head of the queue each time a slot frees,
// so it starts at once rather than at its next poll.
func (g *Gate) Wakes() <-chan event.GenericEvent { return g.wake }

// Admit reports whether c, a cluster that has never been ACTIVE, may start its
// processes, and records in c.Status.BringUp (and c.Status.Reason while it
// waits) its admission or its place in the queue. The caller persists the
// status before starting anything, so the admission survives a restart.
func (g *Gate) Admit(ctx context.Context, c *v1alpha1.Cluster) (bool, error) {
	if g == nil {
		return true, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.seed(ctx); err != nil {
		return false, err
	}
	bu := c.Status.BringUp
	if bu == nil {
		bu = &v1alpha1.BringUpStatus{}
		c.Status.BringUp = bu
	}
	if bu.AdmittedAt != nil || g.running[c.UID] {
		g.running[c.UID] = true
		delete(g.waiting, c.UID)
		return true, nil
	}
	w, ok := g.waiting[c.UID]
	if !ok {
		w = waiter{key: client.ObjectKeyFromObject(c), created: c.CreationTimestamp, queuedAt: metav1.Now()}
		if bu.QueuedAt != nil {
			w.queuedAt = *bu.QueuedAt
		}
		g.waiting[c.UID] = w
	}
	pos := g.position(c.UID)
	room, why := g.room()
	if pos == 1 && room {
		now := metav1.NewTime(g.now())
		bu.AdmittedAt, bu.QueuePosition = &now, 0
		g.running[c.UID] = true
		g.lastAdmit = now.Time
		delete(g.waiting, c.UID)
		return true, nil
	}
	bu.QueuePosition = int32(pos) //nolint:gosec // G115: a queue position is far below 2^31
	bu.QueuedAt = &w.queuedAt
	c.Status.Reason = fmt.Sprintf("queued to start: %s in the cell's queue (%s)", ordinal(pos), why)
	return false, nil
}

// room reports whether another bring-up may start now, and if not, why.
func (g *Gate) room() (bool, string) {
	n := len(g.running)
	switch {
	case n == 0:
		return true, ""
	case n >= g.cfg.Slots:
		return false, fmt.Sprintf("%d of %d bring-ups running", n, g.cfg.Slots)
	case g.cfg.Meter == nil:
		return true, ""
	case g.now().Sub(g.lastAdmit) < Settle:
		return false, fmt.Sprintf("%d of %d bring-ups running, the last just started", n, g.cfg.Slots)
	}
	busy, ok := g.cfg.Meter.Busy()
	if ok && busy > BusyCeiling {
		return false, fmt.Sprintf("%d of %d bring-ups running, the machine's cores %.0f%% busy", n, g.cfg.Slots, busy*100)
	}
	return true, ""
}

// Done frees c's slot, or its place in the queue: it became ACTIVE, failed,
// or is being deleted. The next in the queue is woken.
func (g *Gate) Done(uid types.UID) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ran := g.running[uid]
	delete(g.running, uid)
	delete(g.waiting, uid)
	if !ran {
		return
	}
	q := g.queue()
	if len(q) == 0 {
		return
	}
	head := &v1alpha1.Cluster{}
	head.Namespace, head.Name = q[0].key.Namespace, q[0].key.Name
	select {
	case g.wake <- event.GenericEvent{Object: head}:
	default: // the head polls anyway; a full channel already wakes enough
	}
}

// seed counts, once, the bring-ups a previous run admitted and that have not
// finished: they hold their slots before anything else is admitted.
func (g *Gate) seed(ctx context.Context) error {
	if g.seeded || g.cfg.Lister == nil {
		return nil
	}
	var list v1alpha1.ClusterList
	if err := g.cfg.Lister.List(ctx, &list, g.cfg.Scope...); err != nil {
		return fmt.Errorf("listing clusters to count bring-ups under way: %w", err)
	}
	for i := range list.Items {
		if c := &list.Items[i]; Underway(c) {
			g.running[c.UID] = true
		}
	}
	g.seeded = true
	return nil
}

// Underway reports whether c was admitted and has not finished coming up.
func Underway(c *v1alpha1.Cluster) bool {
	return c.DeletionTimestamp.IsZero() && c.Status.BringUp != nil && c.Status.BringUp.AdmittedAt != nil &&
		c.Status.ActiveAt == nil && c.Status.Status != v1alpha1.StatusFailed
}

// queue is the waiting clusters, oldest first (by creation, then name).
func (g *Gate) queue() []waiter {
	q := make([]waiter, 0, len(g.waiting))
	for _, w := range g.waiting {
		q = append(q, w)
	}
	slices.SortFunc(q, func(a, b waiter) int {
		if c := a.created.Compare(b.created.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.key.String(), b.key.String())
	})
	return q
}

func (g *Gate) position(uid types.UID) int {
	me := g.waiting[uid]
	for i, w := range g.queue() {
		if w.key == me.key {
			return i + 1
		}
	}
	return 0
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprintf("%d%s", n, suffix)
}
