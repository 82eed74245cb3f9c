package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
)

// writeJSON answers with v as the JSON body. A value that cannot be encoded is a
// bug; it is logged and answered with an empty 500, since the status line may
// already be on its way.
func (s *server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "encoding response", requestAttrs(r, err)...)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
