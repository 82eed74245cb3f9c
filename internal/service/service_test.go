package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

func TestEndpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadEndpoint(dir); !errors.Is(err, os.ErrNotExist) {
		// The CLI tells "not running" apart from other failures this way.
		t.Fatalf("ReadEndpoint without a file = %v, want os.ErrNotExist", err)
	}
	want := Endpoint{URL: "https://127.100.0.1:8443", CAFile: filepath.Join(dir, "region", "api", "ca.crt"), PID: 4321}
	s := &Service{cfg: Config{DataDir: dir}, endpoint: want}
	if err := s.writeEndpoint(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadEndpoint(dir)
	if err != nil || got != want {
		t.Fatalf("ReadEndpoint = %+v, %v; want %+v", got, err, want)
	}
	if st, _ := os.Stat(EndpointFile(dir)); st.Mode().Perm() != 0o600 {
		t.Errorf("endpoint.json mode %v, want 0600", st.Mode().Perm())
	}

	if err := os.WriteFile(EndpointFile(dir), []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadEndpoint(dir); err == nil || errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "endpoint.json") {
		t.Fatalf("ReadEndpoint of a corrupt file = %v", err)
	}
}

func TestExitEvent(t *testing.T) {
	for _, tc := range []struct {
		id       string
		ok       bool
		ns, name string
	}{
		{"acct-000000000000/demo/etcd-a", true, "acct-000000000000", "demo"},
		{"acct-1/prod-1a2b3c4d/kube-apiserver-b", true, "acct-1", "prod-1a2b3c4d"},
		{"cell-1/lb", false, "", ""},
		{"region/etcd", false, "", ""},
		{"cell-1/kube-apiserver", false, "", ""},
		{"a/b/c/d", false, "", ""},
		{"", false, "", ""},
	} {
		ev, ok := exitEvent(tc.id)
		if ok != tc.ok {
			t.Errorf("exitEvent(%q) ok = %v, want %v", tc.id, ok, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		if key := client.ObjectKeyFromObject(ev.Object); key.Namespace != tc.ns || key.Name != tc.name {
			t.Errorf("exitEvent(%q) = %v, want %s/%s", tc.id, key, tc.ns, tc.name)
		}
	}
}

func TestOnExit(t *testing.T) {
	s := &cellProcess{exits: make(chan event.GenericEvent, 1)}
	s.onExit("cell-1/lb", errors.New("exit status 1"))
	if len(s.exits) != 0 {
		t.Fatal("a store or load-balancer exit was sent to the cluster controller")
	}
	s.onExit("acct-1/demo/etcd-a", errors.New("exit status 1"))
	// The channel is full: the next exit must not block the runtime's callback.
	s.onExit("acct-1/other/etcd-b", errors.New("exit status 1"))
	ev := <-s.exits
	if ev.Object.GetName() != "demo" {
		t.Fatalf("event for %s, want demo", ev.Object.GetName())
	}
}

func TestFatal(t *testing.T) {
	s := &Service{errc: make(chan error, 1)}
	for _, err := range []error{nil, context.Canceled, fmt.Errorf("serving: %w", http.ErrServerClosed)} {
		s.fatal("part", err)
	}
	if len(s.errc) != 0 {
		t.Fatalf("a normal shutdown was reported as fatal: %v", <-s.errc)
	}
	boom := errors.New("boom")
	s.fatal("cell-1 controllers", boom)
	s.fatal("regional API", errors.New("second")) // full: dropped, not blocking
	err := <-s.Done()
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "cell-1 controllers: ") {
		t.Fatalf("Done() = %v", err)
	}
}

// recorder is a slog handler that keeps the messages it is given.
type recorder struct {
	mu    *sync.Mutex
	msgs  *[]string
	attrs string
	level slog.Level
}

func newRecorder(level slog.Level) recorder {
	return recorder{mu: &sync.Mutex{}, msgs: &[]string{}, level: level}
}

func (r recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }

func (r recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.msgs = append(*r.msgs, r.attrs+rec.Message)
	return nil
}

func (r recorder) WithAttrs(as []slog.Attr) slog.Handler {
	for _, a := range as {
		r.attrs += a.String() + " "
	}
	return r
}

func (r recorder) WithGroup(name string) slog.Handler {
	r.attrs += name + ". "
	return r
}

func (r recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), *r.msgs...)
}

func TestMinLevel(t *testing.T) {
	rec := newRecorder(slog.LevelDebug)
	h := &minLevel{Handler: rec, min: slog.LevelWarn}
	for _, l := range []*slog.Logger{
		slog.New(h),
		slog.New(h).With("cell", "cell-1"),
		slog.New(h).WithGroup("controller"),
		slog.New(h).With("a", 1).WithGroup("g").With("b", 2),
	} {
		l.Debug("debug")
		l.Info("info")
		l.Warn("warn")
		l.Error("error")
	}
	got := rec.got()
	want := []string{
		"warn", "error",
		"cell=cell-1 warn", "cell=cell-1 error",
		"controller. warn", "controller. error",
		"a=1 g. b=2 warn", "a=1 g. b=2 error",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("logged %q, want %q", got, want)
	}
	for _, derived := range []slog.Handler{h.WithAttrs(nil), h.WithGroup("x")} {
		if _, ok := derived.(*minLevel); !ok {
			t.Errorf("derived handler %T dropped the filter", derived)
		}
	}

	// The wrapped handler's own level still applies.
	strict := newRecorder(slog.LevelError)
	slog.New(&minLevel{Handler: strict, min: slog.LevelWarn}).Warn("warn")
	if len(strict.got()) != 0 {
		t.Error("minLevel let through what the wrapped handler rejects")
	}
}

func TestQuietLogr(t *testing.T) {
	rec := newRecorder(slog.LevelDebug)
	l := quietLogr(slog.New(rec))
	for _, lg := range []logr.Logger{l, l.WithName("manager"), l.WithValues("controller", "cluster")} {
		lg.Info("info")
		lg.V(1).Info("verbose")
		lg.Error(errors.New("boom"), "error")
	}
	got := rec.got()
	if len(got) != 3 {
		t.Fatalf("logged %q, want only the 3 errors", got)
	}
	for _, m := range got {
		if !strings.HasSuffix(m, "error") {
			t.Errorf("logged %q", m)
		}
	}
}
