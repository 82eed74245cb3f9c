package storetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/runtime/process"
	"github.com/cellplane/cellplane/internal/store"
)

// running is a started store and everything needed to take it down again.
type running struct {
	dir    *ownedDir
	claim  net.Listener // holds the address against other test binaries
	rt     *process.Runtime
	runner *recorder
	cfg    *rest.Config
	http   *http.Client
	client client.WithWatch

	warm       sync.WaitGroup
	cancelWarm context.CancelFunc

	stopOnce sync.Once
	stopErr  error
}

// start brings a store up in a fresh directory on a free loopback address. On
// failure it takes down whatever it started and says what the logs said.
func start(ctx context.Context) (*running, error) {
	bins, err := findBinaries(ctx)
	if err != nil {
		return nil, err
	}
	reapStale(ctx)
	r, ip, err := prepare()
	if err != nil {
		return nil, err
	}
	if err := r.launch(ctx, bins, ip); err != nil {
		return nil, errors.Join(err, r.stop(ctx))
	}
	return r, nil
}

// prepare takes a directory and an address for a store.
func prepare() (*running, net.IP, error) {
	dir, err := makeOwnedDir()
	if err != nil {
		return nil, nil, err
	}
	rt := process.New(process.Options{})
	r := &running{dir: dir, rt: rt, runner: &recorder{rt: rt, file: dir.specsFile()}}
	ip, claim, err := claimAddress()
	if err != nil {
		return nil, nil, errors.Join(err, r.stop(context.Background()))
	}
	r.claim = claim
	return r, ip, nil
}

// launch starts the store's processes, waits for its API server and CRDs, and
// builds its client.
func (r *running) launch(ctx context.Context, bins binaries, ip net.IP) error {
	s, err := store.Start(ctx, store.Config{
		Name: "storetest", Dir: r.dir.storeDir(), IP: ip,
		Etcd: bins.etcd, APIServer: bins.apiServer, Runner: r.runner,
	})
	if err != nil {
		return fmt.Errorf("starting the store on %s: %w%s", ip, err, r.runner.logTails())
	}
	r.cfg = s.RESTConfig()
	if r.http, err = rest.HTTPClientFor(r.cfg); err != nil {
		return fmt.Errorf("building the store's HTTP client: %w", err)
	}
	opts := client.Options{Scheme: Scheme(), HTTPClient: r.http}
	if r.client, err = client.NewWithWatch(r.cfg, opts); err != nil {
		return fmt.Errorf("building the store client: %w", err)
	}
	r.warmUp()
	return nil
}

// warmUp lists every cellplane kind once, concurrently, in the background:
// kube-apiserver takes about a second to serve the first request for a CRD,
// which tests would otherwise pay kind after kind.
func (r *running) warmUp() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancelWarm = cancel
	for _, list := range cellplaneLists() {
		r.warm.Go(func() { _ = r.client.List(ctx, list) })
	}
}

// cellplaneLists returns an empty list of each of cellplane's kinds.
func cellplaneLists() []client.ObjectList {
	sc := Scheme()
	var lists []client.ObjectList
	for gvk := range sc.AllKnownTypes() {
		if gvk.GroupVersion() != v1alpha1.GroupVersion || !strings.HasSuffix(gvk.Kind, "List") {
			continue
		}
		if obj, err := sc.New(gvk); err == nil {
			if list, ok := obj.(client.ObjectList); ok {
				lists = append(lists, list)
			}
		}
	}
	return lists
}

// stop stops every process the store started, by PID through the runtime,
// then gives up the address and removes the files. Only the first call does
// anything.
func (r *running) stop(ctx context.Context) error {
	r.stopOnce.Do(func() { r.stopErr = r.teardown(ctx) })
	return r.stopErr
}

func (r *running) teardown(ctx context.Context) error {
	if r.cancelWarm != nil {
		r.cancelWarm()
		r.warm.Wait()
	}
	if r.http != nil {
		// Idle keep-alive connections to a stopped server would hold their
		// sockets and goroutines until the binary exits.
		r.http.CloseIdleConnections()
	}
	err := r.runner.stopAll(ctx)
	r.rt.Close()
	if r.claim != nil {
		_ = r.claim.Close() // frees the address; an abstract socket leaves nothing behind
	}
	if err != nil {
		// The directory keeps the process list: the next binary's reaper retries.
		_ = r.dir.lock.Close() // the kernel drops the lock as the binary ends anyway
		return fmt.Errorf("%w (left %s for the next test binary to reap)", err, r.dir.path)
	}
	return r.dir.remove()
}

const (
	// dirPrefix names every store directory under os.TempDir, so a later binary
	// finds the ones a crashed binary left (reapStale).
	dirPrefix = "cellplane-storetest-"
	// specsName, in a store directory, lists the processes the store started.
	specsName = "specs.json"
)

// ownedDir is a store's directory, locked by its owner for as long as the
// owner lives: the lock is how reapStale tells a live store from a dead one.
type ownedDir struct {
	path string
	lock *os.File
}

func (d *ownedDir) storeDir() string  { return filepath.Join(d.path, "store") }
func (d *ownedDir) specsFile() string { return filepath.Join(d.path, specsName) }

// makeOwnedDir creates a directory and takes its owner lock before anything
// else can see the lock file: the file is locked under a temporary name and
// renamed into place, so a reaper never finds it unlocked while we live.
func makeOwnedDir() (*ownedDir, error) {
	path, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("creating the store directory: %w", err)
	}
	lock, err := lockNew(filepath.Join(path, ownerFile))
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(path))
	}
	return &ownedDir{path: path, lock: lock}, nil
}

// remove deletes the directory, then lets go of its lock.
func (d *ownedDir) remove() error {
	err := os.RemoveAll(d.path)
	_ = d.lock.Close() // as above
	if err != nil {
		return fmt.Errorf("removing the store directory: %w", err)
	}
	return nil
}
