package keyservice

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/cellplane/cellplane/internal/sigv4"
)

// Handler serves the KMS operations of the account a request is signed for.
// Put it behind the SigV4 guard with a verifier for SigningName.
type Handler struct {
	Keys   *Store
	Binder *Binder
	Logger *slog.Logger
	// DefaultAccount serves unsigned requests; unit tests only (the
	// regional API always verifies).
	DefaultAccount string
}

// operation serves one KMS call for account.
type operation func(h *Handler, r *http.Request, account string) (any, error)

var operations = map[string]operation{
	"CreateKey":         (*Handler).createKey,
	"DescribeKey":       (*Handler).describeKey,
	"ListKeys":          (*Handler).listKeys,
	"EnableKey":         (*Handler).enableKey,
	"DisableKey":        (*Handler).disableKey,
	"RotateKeyOnDemand": (*Handler).rotateKeyOnDemand,
	"ListKeyRotations":  (*Handler).listKeyRotations,
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	refuse := WriteError(h.Logger)
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		refuse(w, r, errMethod)
		return
	}
	name := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
	op, ok := operations[name]
	if !ok {
		refuse(w, r, errUnknownOperation)
		return
	}
	account, ok := sigv4.AccountFrom(r.Context())
	if !ok {
		account = h.DefaultAccount
	}
	if account == "" {
		refuse(w, r, sigv4.ErrMissingAuth)
		return
	}
	out, err := op(h, r, account)
	if err != nil {
		refuse(w, r, err)
		return
	}
	h.Logger.Info("key service", "op", name, "account", account)
	writeJSON(w, http.StatusOK, out)
}
