package framework

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// Load is clients reading and writing ConfigMaps through a cluster's
// endpoint, each over its own connection, while an informer watches them:
// what a tenant's controllers do during an upgrade. Every call goes through
// client-go with its default retries; an error it still returns counts as a
// failed request.
type Load struct {
	namespace string
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	stopInf   chan struct{}

	mu       sync.Mutex
	requests int
	failures []string
	written  map[string][]string // ConfigMap → resourceVersions written
	seen     map[string][]string // ConfigMap → resourceVersions the informer delivered
}

// LoadResult is what a load saw.
type LoadResult struct {
	Requests int
	// Failures are the requests that failed after client-go's retries.
	Failures []string
	// Unseen are writes ("name@resourceVersion") the informer never delivered.
	Unseen []string
	Writes int
}

// StartLoad starts clients writers against the cluster kubeconfig names, in
// namespace (created if missing), and an informer over it. Stop ends it.
func StartLoad(ctx context.Context, kubeconfig, namespace string, clients int) (*Load, error) {
	base, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	admin, err := kubernetes.NewForConfig(base)
	if err != nil {
		return nil, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if _, err := admin.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating namespace %s: %w", namespace, err)
	}
	l := &Load{namespace: namespace, written: map[string][]string{}, seen: map[string][]string{}, stopInf: make(chan struct{})}
	factory := informers.NewSharedInformerFactoryWithOptions(admin, 0, informers.WithNamespace(namespace))
	inf := factory.Core().V1().ConfigMaps().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { l.saw(o) },
		UpdateFunc: func(_, o any) { l.saw(o) },
	}); err != nil {
		return nil, err
	}
	factory.Start(l.stopInf)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		close(l.stopInf)
		return nil, fmt.Errorf("the informer never synced")
	}
	lctx, cancel := context.WithCancel(ctx)
	l.cancel = cancel
	for i := range clients {
		cfg := rest.CopyConfig(base)
		// A dialer of its own keeps client-go from sharing one cached
		// transport: each client is a connection of its own, as separate
		// programs would be.
		cfg.Dial = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
		cfg.UserAgent = "cellplane-load/" + strconv.Itoa(i)
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			cancel()
			close(l.stopInf)
			return nil, err
		}
		l.wg.Go(func() { l.write(lctx, cs, i) })
	}
	return l, nil
}

func (l *Load) saw(o any) {
	cm, ok := o.(*corev1.ConfigMap)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[cm.Name] = append(l.seen[cm.Name], cm.ResourceVersion)
}

// write creates a ConfigMap, reads it back, updates it and lists the
// namespace, over and over, until ctx ends.
func (l *Load) write(ctx context.Context, cs kubernetes.Interface, client int) {
	cms := cs.CoreV1().ConfigMaps(l.namespace)
	for n := 0; ctx.Err() == nil; n++ {
		name := fmt.Sprintf("c%d-%d", client, n)
		cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"n": "0"}}, metav1.CreateOptions{})
		if !l.count(ctx, "create "+name, err) {
			continue
		}
		l.wrote(cm)
		got, err := cms.Get(ctx, name, metav1.GetOptions{})
		if !l.count(ctx, "get "+name, err) {
			continue
		}
		got.Data["n"] = "1"
		cm, err = cms.Update(ctx, got, metav1.UpdateOptions{})
		if !l.count(ctx, "update "+name, err) {
			continue
		}
		l.wrote(cm)
		if n%5 == 0 {
			_, err = cms.List(ctx, metav1.ListOptions{Limit: 50})
			l.count(ctx, "list", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// count records a request; one cut short by the load's own end is not a
// failure of the cluster.
func (l *Load) count(ctx context.Context, what string, err error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil && ctx.Err() != nil {
		return false
	}
	l.requests++
	if err != nil {
		l.failures = append(l.failures, fmt.Sprintf("%s %s: %v", time.Now().Format("15:04:05.000"), what, err))
		return false
	}
	return true
}

func (l *Load) wrote(cm *corev1.ConfigMap) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.written[cm.Name] = append(l.written[cm.Name], cm.ResourceVersion)
}

// Requests is how many requests the clients made so far.
func (l *Load) Requests() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.requests
}

// Busy waits until the clients made n requests: they run before whatever
// the caller does next.
func (l *Load) Busy(ctx context.Context, n int) error {
	return Eventually(ctx, time.Minute, 50*time.Millisecond, func() error {
		if got := l.Requests(); got < n {
			return fmt.Errorf("%d requests so far, waiting for %d", got, n)
		}
		return nil
	})
}

// Stop ends the clients, gives the informer until settle to deliver the
// last writes, and reports.
func (l *Load) Stop(settle time.Duration) LoadResult {
	l.cancel()
	l.wg.Wait()
	// Whatever the informer has not delivered by the end is reported unseen.
	_ = Eventually(context.Background(), settle, 100*time.Millisecond, func() error {
		if unseen, _ := l.unseen(); len(unseen) > 0 {
			return fmt.Errorf("%d writes not seen yet", len(unseen))
		}
		return nil
	})
	close(l.stopInf)
	unseen, writes := l.unseen()
	l.mu.Lock()
	defer l.mu.Unlock()
	return LoadResult{Requests: l.requests, Failures: slices.Clone(l.failures), Unseen: unseen, Writes: writes}
}

func (l *Load) unseen() ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	n := 0
	for name, rvs := range l.written {
		for _, rv := range rvs {
			n++
			if !slices.Contains(l.seen[name], rv) {
				out = append(out, name+"@"+rv)
			}
		}
	}
	slices.Sort(out)
	return out, n
}
