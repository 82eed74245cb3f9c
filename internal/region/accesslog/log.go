package accesslog

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"time"

	"github.com/cellplane/cellplane/internal/eks"
)

// requestInfo is what handlers tell the access log about a request.
type requestInfo struct {
	id      string
	cluster string
}

type requestInfoKey struct{}

// Wrap logs one line per request: method, path, status, duration and the
// cluster it named. Bodies are never logged: they hold tags and, for kubeconfig,
// credentials. It also gives each request an ID, sent back in the response header
// the AWS SDKs surface, so a failure a user reports can be found in the log.
func Wrap(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{id: rand.Text()}
		w.Header().Set(eks.HeaderRequestID, info.id)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info)))
		log.LogAttrs(r.Context(), level(r.Method, rec.status), "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
			slog.String("cluster", info.cluster),
			slog.String("requestID", info.id))
	})
}

// level keeps the log concise: reads that succeed (every poll of --wait) are
// debug detail, and so are throttled requests, which come in floods; changes and
// failures are what an operator wants to see.
func level(method string, status int) slog.Level {
	if (method == http.MethodGet && status < http.StatusBadRequest) || status == http.StatusTooManyRequests {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// info returns the request's requestInfo; a blank one outside Wrap.
func info(r *http.Request) *requestInfo {
	if i, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		return i
	}
	return &requestInfo{}
}

// NoteCluster records the cluster a request is about, for the access log.
func NoteCluster(r *http.Request, name string) { info(r).cluster = name }

// Cluster is the cluster the request noted.
func Cluster(r *http.Request) string { return info(r).cluster }

// RequestID is the request's ID, "" outside Wrap.
func RequestID(r *http.Request) string { return info(r).id }
