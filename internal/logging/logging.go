// Package logging adapts cellplane's slog loggers to the logging interfaces
// of the libraries it embeds. Loggers are always passed in; nothing here is
// global.
package logging

import (
	"context"
	"log/slog"

	"github.com/go-logr/logr"
)

// Quiet hands a library that logs through logr (controller-runtime,
// client-go) our logger, keeping only its warnings and errors: its info logs
// describe its own machinery, not the user's clusters.
func Quiet(l *slog.Logger) logr.Logger {
	return logr.FromSlogHandler(&minLevel{Handler: l.Handler(), min: slog.LevelWarn})
}

type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h *minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

// WithAttrs and WithGroup keep the filter on derived loggers.
func (h *minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return &minLevel{Handler: h.Handler.WithAttrs(as), min: h.min}
}

func (h *minLevel) WithGroup(name string) slog.Handler {
	return &minLevel{Handler: h.Handler.WithGroup(name), min: h.min}
}
