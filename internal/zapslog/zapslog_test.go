package zapslog

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// recorder keeps the records a handler gets, with the groups and attributes
// given through WithGroup and WithAttrs rendered into their keys.
type recorder struct {
	mu      *sync.Mutex
	records *[]map[string]any
	prefix  string
	attrs   map[string]any
	level   slog.Level
}

func newRecorder(level slog.Level) *recorder {
	return &recorder{mu: &sync.Mutex{}, records: &[]map[string]any{}, attrs: map[string]any{}, level: level}
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	m := map[string]any{"msg": rec.Message, "level": rec.Level, "pc": rec.PC}
	for k, v := range r.attrs {
		m[k] = v
	}
	rec.Attrs(func(a slog.Attr) bool { flatten(m, r.prefix, a); return true })
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.records = append(*r.records, m)
	return nil
}

func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	n := *r
	n.attrs = map[string]any{}
	for k, v := range r.attrs {
		n.attrs[k] = v
	}
	for _, a := range as {
		flatten(n.attrs, r.prefix, a)
	}
	return &n
}

func (r *recorder) WithGroup(name string) slog.Handler {
	n := *r
	n.prefix = r.prefix + name + "."
	return &n
}

func flatten(m map[string]any, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			flatten(m, p, g)
		}
		return
	}
	m[prefix+a.Key] = v.Any()
}

func (r *recorder) all() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), *r.records...)
}

type point struct{ x, y int }

func (p point) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddInt("x", p.x)
	enc.AddInt("y", p.y)
	return nil
}

type name string

func (n name) String() string { return "name:" + string(n) }

func TestFields(t *testing.T) {
	rec := newRecorder(slog.LevelDebug)
	boom := errors.New("boom")
	l := NewAtLevel(slog.New(rec), zapcore.DebugLevel).Named("etcd-client").With(zap.String("endpoint", "a"))
	l.Warn("retrying",
		zap.String("s", "v"), zap.Int("i", -3), zap.Uint32("u", 7), zap.Bool("b", true),
		zap.Duration("d", 1500*time.Millisecond), zap.Float64("f", 0.5), zap.Error(boom),
		zap.Stringer("n", name("x")), zap.Object("p", point{1, 2}), zap.Strings("list", []string{"a", "b"}),
		zap.Time("at", time.Unix(10, 0).UTC()), zap.Inline(point{3, 4}), zap.Skip(),
		zap.Namespace("ns"), zap.String("inner", "deep"),
	)
	got := rec.all()
	if len(got) != 1 {
		t.Fatalf("got %d records, want 1", len(got))
	}
	r := got[0]
	want := map[string]any{
		"msg": "retrying", "level": slog.LevelWarn, "logger": "etcd-client", "endpoint": "a",
		"s": "v", "i": int64(-3), "u": uint64(7), "b": true, "d": 1500 * time.Millisecond, "f": 0.5,
		"error": boom, "x": int64(3), "y": int64(4), "ns.inner": "deep",
	}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s = %#v, want %#v", k, r[k], v)
		}
	}
	if s, ok := r["n"].(name); !ok || s.String() != "name:x" {
		t.Errorf("n = %#v, want the Stringer", r["n"])
	}
	if p, ok := r["p"].(map[string]any); !ok || p["x"] != 1 || p["y"] != 2 {
		t.Errorf("p = %#v, want the object as a map", r["p"])
	}
	if at, ok := r["at"].(time.Time); !ok || !at.Equal(time.Unix(10, 0)) {
		t.Errorf("at = %#v", r["at"])
	}
	if l, ok := r["list"].([]any); !ok || len(l) != 2 {
		t.Errorf("list = %#v", r["list"])
	}
	if r["pc"] == uintptr(0) {
		t.Error("no caller PC: handlers with AddSource would print nothing")
	}
	if _, ok := r[""]; ok {
		t.Errorf("an empty key leaked: %v", r)
	}
}

// TestNamespaceInWith: a namespace opened by With holds the fields of every
// later entry, as zap nests them.
func TestNamespaceInWith(t *testing.T) {
	rec := newRecorder(slog.LevelDebug)
	l := New(slog.New(rec)).With(zap.String("outer", "o"), zap.Namespace("req"), zap.String("id", "1"))
	l.Error("failed", zap.Int("code", 5))
	r := rec.all()[0]
	for k, v := range map[string]any{"outer": "o", "req.id": "1", "req.code": int64(5)} {
		if r[k] != v {
			t.Errorf("%s = %#v, want %#v in %v", k, r[k], v, r)
		}
	}
}

func TestLevels(t *testing.T) {
	for _, tc := range []struct {
		min     zapcore.LevelEnabler
		handler slog.Level
		wrote   []slog.Level
	}{
		// The default passes warnings and errors only: etcd's client is chatty at info.
		{DefaultLevel, slog.LevelDebug, []slog.Level{slog.LevelWarn, slog.LevelError, slog.LevelError}},
		{zapcore.DebugLevel, slog.LevelDebug, []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelError}},
		// The handler's own level applies too.
		{zapcore.DebugLevel, slog.LevelError, []slog.Level{slog.LevelError, slog.LevelError}},
	} {
		rec := newRecorder(tc.handler)
		l := NewAtLevel(slog.New(rec), tc.min)
		l.Debug("d")
		l.Info("i")
		l.Warn("w")
		l.Error("e")
		l.DPanic("dp") // a production logger does not panic on DPanic
		var got []slog.Level
		for _, r := range rec.all() {
			got = append(got, r["level"].(slog.Level))
		}
		if len(got) != len(tc.wrote) {
			t.Errorf("min %v, handler %v: wrote %v, want %v", tc.min, tc.handler, got, tc.wrote)
			continue
		}
		for i := range got {
			if got[i] != tc.wrote[i] {
				t.Errorf("min %v, handler %v: wrote %v, want %v", tc.min, tc.handler, got, tc.wrote)
				break
			}
		}
	}
}

// TestTextOutput is what an operator reads in a cell's log.
func TestTextOutput(t *testing.T) {
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	l := New(slog.New(h).With("cell", "cell-1"))
	l.Info("dropped")
	l.Warn("retrying of unary invoker failed", zap.String("target", "etcd-endpoints://0x1/127.0.0.1:2379"), zap.Error(errors.New("context deadline exceeded")))
	want := `level=WARN msg="retrying of unary invoker failed" cell=cell-1 target=etcd-endpoints://0x1/127.0.0.1:2379 error="context deadline exceeded"` + "\n"
	if buf.String() != want {
		t.Errorf("wrote\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestNilLogger(t *testing.T) {
	l := New(nil)
	l.Error("nowhere") // must not panic
	if l.Core().Enabled(zapcore.ErrorLevel) {
		t.Error("a nil slog logger should give a no-op zap logger")
	}
	if err := New(slog.New(newRecorder(slog.LevelDebug))).Sync(); err != nil {
		t.Errorf("Sync = %v", err)
	}
}
