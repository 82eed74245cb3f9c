package logging

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
)

// recorder is a slog handler that keeps the messages it is given, each after
// the attributes and groups of the logger it came through.
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
	l := Quiet(slog.New(rec))
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
