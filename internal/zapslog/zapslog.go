// Package zapslog hands libraries that log through zap, such as etcd's client
// (clientv3.Config.Logger), a *zap.Logger that writes to a *slog.Logger, so their
// warnings land in the log of the process or cell that uses them instead of being
// dropped by zap.NewNop. It converts each entry and its fields; it keeps no state
// and does no I/O of its own.
package zapslog

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// DefaultLevel is the least severe level New passes on. etcd's client logs every
// endpoint switch and retry at info, which is noise in a service's log; its
// warnings (a member unreachable, a balancer failure) are what matter.
const DefaultLevel = zapcore.WarnLevel

// New returns a *zap.Logger that writes entries at DefaultLevel and above to l.
// A nil l gives a logger that drops everything.
func New(l *slog.Logger) *zap.Logger { return NewAtLevel(l, DefaultLevel) }

// NewAtLevel is New with another minimum level.
func NewAtLevel(l *slog.Logger, min zapcore.LevelEnabler) *zap.Logger {
	if l == nil {
		return zap.NewNop()
	}
	// AddCaller gives the slog record the PC of the code that logged, for
	// handlers with AddSource.
	return zap.New(NewCore(l.Handler(), min), zap.AddCaller())
}

// NewCore returns a zapcore.Core that forwards entries at min and above, which
// h also enables, to h.
func NewCore(h slog.Handler, min zapcore.LevelEnabler) zapcore.Core {
	return &core{h: h, min: min}
}

type core struct {
	h   slog.Handler
	min zapcore.LevelEnabler
}

func (c *core) Enabled(l zapcore.Level) bool {
	return c.min.Enabled(l) && c.h.Enabled(context.Background(), Level(l))
}

// With carries fields into the handler with WithAttrs, and a zap namespace
// into it as a group, so later fields land inside it as zap nests them.
func (c *core) With(fields []zapcore.Field) zapcore.Core {
	h := c.h
	for len(fields) > 0 {
		before, ns, rest := cutNamespace(fields)
		if as := attrs(before); len(as) > 0 {
			h = h.WithAttrs(as)
		}
		if ns == "" {
			break
		}
		h, fields = h.WithGroup(ns), rest
	}
	return &core{h: h, min: c.min}
}

func (c *core) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *core) Write(e zapcore.Entry, fields []zapcore.Field) error {
	var pc uintptr
	if e.Caller.Defined {
		pc = e.Caller.PC
	}
	r := slog.NewRecord(e.Time, Level(e.Level), e.Message, pc)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", e.LoggerName))
	}
	r.AddAttrs(attrs(fields)...)
	if e.Stack != "" {
		r.AddAttrs(slog.String("stack", e.Stack))
	}
	return c.h.Handle(context.Background(), r)
}

// Sync has nothing to flush: slog handlers write as they handle.
func (c *core) Sync() error { return nil }

// Level maps a zap level to slog's. slog has nothing above Error; zap's DPanic,
// Panic and Fatal become Error (zap itself still panics or exits after them).
func Level(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

// attrs converts fields; a namespace groups every field after it.
func attrs(fields []zapcore.Field) []slog.Attr {
	before, ns, rest := cutNamespace(fields)
	out := make([]slog.Attr, 0, len(before)+1)
	for _, f := range before {
		if f.Type != zapcore.SkipType {
			out = append(out, attr(f))
		}
	}
	if ns != "" {
		out = append(out, slog.Attr{Key: ns, Value: slog.GroupValue(attrs(rest)...)})
	}
	return out
}

// cutNamespace splits fields at the first zap.Namespace.
func cutNamespace(fields []zapcore.Field) (before []zapcore.Field, ns string, rest []zapcore.Field) {
	for i, f := range fields {
		if f.Type == zapcore.NamespaceType {
			return fields[:i], f.Key, fields[i+1:]
		}
	}
	return fields, "", nil
}

// attr converts the common field types directly and lets zap's own map encoder
// render the rest (objects, arrays, reflected values), as zap would encode them.
func attr(f zapcore.Field) slog.Attr {
	switch f.Type {
	case zapcore.StringType:
		return slog.String(f.Key, f.String)
	case zapcore.BoolType:
		return slog.Bool(f.Key, f.Integer == 1)
	case zapcore.Int64Type, zapcore.Int32Type, zapcore.Int16Type, zapcore.Int8Type:
		return slog.Int64(f.Key, f.Integer)
	case zapcore.Uint64Type, zapcore.Uint32Type, zapcore.Uint16Type, zapcore.Uint8Type, zapcore.UintptrType:
		return slog.Uint64(f.Key, uint64(f.Integer)) //nolint:gosec // G115: zap stores unsigned fields' bits in Integer; this gives them back
	case zapcore.DurationType:
		return slog.Duration(f.Key, time.Duration(f.Integer))
	case zapcore.ErrorType:
		if err, ok := f.Interface.(error); ok {
			return slog.Any(f.Key, err)
		}
	case zapcore.StringerType:
		return slog.Any(f.Key, f.Interface)
	}
	enc := zapcore.NewMapObjectEncoder()
	f.AddTo(enc)
	if v, ok := enc.Fields[f.Key]; ok && len(enc.Fields) == 1 {
		return slog.Any(f.Key, v)
	}
	// zap.Inline, or an error's extra "Verbose" key: a group with an empty key
	// is inlined by slog, as zap inlines these.
	keys := slices.Sorted(maps.Keys(enc.Fields))
	as := make([]slog.Attr, len(keys))
	for i, k := range keys {
		as[i] = slog.Any(k, enc.Fields[k])
	}
	return slog.Attr{Key: "", Value: slog.GroupValue(as...)}
}
