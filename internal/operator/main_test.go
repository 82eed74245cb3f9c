package operator

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

// The operator's commands work on the region's store: here the test store
// is that region. Each test keeps to accounts of its own (env.Account) and
// deletes the Cells it makes; accounts, which the account store lists all
// of, are made by one test only.
var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

// testClient is a Client on a data directory of t's own, already connected
// to the test store as its region: what regionStore would return for a
// running cellplane.
func testClient(t *testing.T) *Client {
	t.Helper()
	return &Client{dataDir: t.TempDir(), region: env.Client(t)}
}

// accountNamespace returns a new account's ID, with the namespace the
// regional API would have made with its first cluster.
func accountNamespace(t *testing.T) string {
	t.Helper()
	id := env.Account()
	env.Create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.Namespace(id)}})
	return id
}

// Without a running cellplane (no endpoint file) the commands say so,
// rather than failing to connect.
func TestClientNotRunning(t *testing.T) {
	c := New(t.TempDir())
	if _, err := c.Cells(); !errors.Is(err, errdefs.ErrNotRunning) {
		t.Errorf("Cells = %v, want ErrNotRunning", err)
	}
	if _, err := c.Accounts(); !errors.Is(err, errdefs.ErrNotRunning) {
		t.Errorf("Accounts = %v, want ErrNotRunning", err)
	}
	b, err := c.Backups() // listing backups needs no running cellplane
	if err != nil {
		t.Fatalf("Backups = %v", err)
	}
	if _, err := b.Request(context.Background(), v1alpha1.DefaultAccount, "demo"); !errors.Is(err, errdefs.ErrNotRunning) {
		t.Errorf("Request = %v, want ErrNotRunning", err)
	}
}
