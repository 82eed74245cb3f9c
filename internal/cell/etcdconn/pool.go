package etcdconn

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/cellplane/cellplane/internal/controlplane"
)

// ErrReleased is returned for a cluster whose connection was released: the
// cluster is gone, and nothing may connect to its etcd again.
var ErrReleased = errors.New("the cluster's etcd connection was released")

// ErrClosed is returned once the pool is closed.
var ErrClosed = errors.New("etcd connection pool closed")

// Pool is the cell's etcd clients, one per cluster UID.
type Pool struct {
	// Logger is where the etcd clients log (warnings and errors); nil drops them.
	Logger *zap.Logger

	mu       sync.Mutex
	conns    map[string]*Conn
	released map[string]bool
	closed   bool
}

// New returns an empty pool whose clients log to log (nil: nowhere).
func New(log *zap.Logger) *Pool {
	return &Pool{Logger: log, conns: map[string]*Conn{}, released: map[string]bool{}}
}

// Get returns the connection to the etcd of the control plane p describes,
// connecting on first use. Callers share it and never close it.
func (pl *Pool) Get(p *controlplane.Plan) (*Conn, error) {
	uid := p.UID()
	pl.mu.Lock()
	defer pl.mu.Unlock()
	switch {
	case pl.closed:
		return nil, ErrClosed
	case pl.released[uid]:
		return nil, fmt.Errorf("%w (cluster %s)", ErrReleased, p.ID())
	}
	if c, ok := pl.conns[uid]; ok {
		return c, nil
	}
	cli, err := newClient(p, pl.Logger)
	if err != nil {
		return nil, err
	}
	c := &Conn{cli: cli, eps: p.EtcdEndpoints()}
	pl.conns[uid] = c
	return c, nil
}

// Release closes the connection of the cluster with uid, if any, for good:
// the cluster is deleted.
func (pl *Pool) Release(uid string) {
	pl.mu.Lock()
	c := pl.conns[uid]
	delete(pl.conns, uid)
	pl.released[uid] = true
	pl.mu.Unlock()
	if c != nil {
		_ = c.cli.Close()
	}
}

// Len is how many clusters have a connection.
func (pl *Pool) Len() int {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return len(pl.conns)
}

// Close closes every connection; the pool connects no more.
func (pl *Pool) Close() {
	pl.mu.Lock()
	conns := pl.conns
	pl.conns, pl.closed = map[string]*Conn{}, true
	pl.mu.Unlock()
	for _, c := range conns {
		_ = c.cli.Close()
	}
}

// dialTimeout bounds the first connection to a member.
const dialTimeout = 5 * time.Second

// newClient connects to every member of p's etcd with cellplane's own client
// certificate, the one the Prober uses: it is issued for cellplane, not
// borrowed from the API server, so etcd's logs tell the two apart.
func newClient(p *controlplane.Plan, log *zap.Logger) (*clientv3.Client, error) {
	f := p.Files()
	tlsInfo := transport.TLSInfo{
		CertFile: f.CellplaneEtcdClient.Cert, KeyFile: f.CellplaneEtcdClient.Key, TrustedCAFile: f.EtcdCA,
	}
	tc, err := tlsInfo.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading etcd client certificate: %w", err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: p.EtcdEndpoints(), TLS: tc, DialTimeout: dialTimeout,
		Logger: log.With(zap.String("cluster", p.ID())),
		// Dead members are noticed in seconds instead of at the kernel's timeout.
		DialKeepAliveTime: 10 * time.Second, DialKeepAliveTimeout: 5 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd: %w", err)
	}
	return cli, nil
}
