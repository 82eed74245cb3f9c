package api

import (
	"net/http"

	"github.com/cellplane/cellplane/internal/region/accesslog"
)

func noteCluster(r *http.Request, name string) { accesslog.NoteCluster(r, name) }
func clusterOf(r *http.Request) string         { return accesslog.Cluster(r) }
func requestID(r *http.Request) string         { return accesslog.RequestID(r) }
