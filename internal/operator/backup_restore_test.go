package operator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// restoreFixture is an account of its own in the region, which may hold one
// cluster "demo" whose cell reports backing it up in set "uid-now", and a
// backup store in which the fixture writes sets.
type restoreFixture struct {
	b       *Backups
	kms     envelope.KMS
	account string
}

func newRestoreFixture(t *testing.T) *restoreFixture {
	t.Helper()
	dir := t.TempDir()
	store, err := objstore.NewDir(filepath.Join(dir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	kms, err := envelope.NewLocalKMS(filepath.Join(dir, "keys", "backup-kek"))
	if err != nil {
		t.Fatal(err)
	}
	return &restoreFixture{b: &Backups{client: testClient(t), storage: backup.Storage{Dir: store.Root()}, store: store}, kms: kms,
		account: accountNamespace(t)}
}

// set writes a backup set of demo with UID uid: fulls at the revisions given,
// and incrementals from the first full to last.
func (f *restoreFixture) set(t *testing.T, uid string, last int64, fulls ...int64) {
	t.Helper()
	ctx := context.Background()
	s := backup.New(f.b.store, f.kms, backup.Ref{Namespace: v1alpha1.Namespace(f.account), Name: v1alpha1.ObjectName("demo"), UID: uid})
	s.TempDir = t.TempDir()
	for _, rev := range fulls {
		if _, err := s.PutFull(ctx, func(w io.Writer) (int64, error) {
			_, err := io.WriteString(w, "snapshot")
			return rev, err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(fulls) > 0 && last > fulls[0] {
		if _, err := s.PutIncremental(ctx, fulls[0]+1, last, time.Now(), []byte("batch")); err != nil {
			t.Fatal(err)
		}
	}
}

// demoCluster is demo as the region holds it: the store gives it a UID of
// its own, and its cell reports backing it up in set uid-now (a cell's copy
// has a UID the region's object does not share).
type demoCluster struct {
	status     string
	restore    *v1alpha1.RestoreStatus
	annotation string
}

// store puts the cluster in the fixture's account, with its status.
func (d demoCluster) store(t *testing.T, f *restoreFixture) {
	t.Helper()
	c := &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: v1alpha1.Namespace(f.account), Name: v1alpha1.ObjectName("demo")},
		Spec:       v1alpha1.ClusterSpec{Name: "demo", Version: "1.35"},
		Status:     v1alpha1.ClusterStatus{Status: d.status, Restore: d.restore.DeepCopy(), Backup: &v1alpha1.BackupStatus{Set: "uid-now"}},
	}
	if d.annotation != "" {
		c.Annotations = map[string]string{v1alpha1.AnnotationRestoreRequested: d.annotation}
	}
	env.CreateWithStatus(t, c)
}

func requestJSON(id string) string {
	v, _ := json.Marshal(v1alpha1.RestoreRequest{ID: id})
	return string(v)
}

func TestRequestRestore(t *testing.T) {
	const earlier = "2026-01-02T03:04:05.123456789Z"
	active := &demoCluster{status: v1alpha1.StatusActive}
	for _, tc := range []struct {
		name     string
		cluster  *demoCluster // nil: none
		sets     func(*testing.T, *restoreFixture)
		revision int64
		set      string
		want     error  // nil: the request is made
		msg      string // in the error
	}{
		{name: "newest of its own set", cluster: active, sets: ownSet},
		{name: "covered revision", cluster: active, sets: ownSet, revision: 150},
		{name: "revision of the full", cluster: active, sets: ownSet, revision: 100},
		{name: "another set", cluster: active, sets: ownSet, set: "uid-old", revision: 40},
		{name: "own set named", cluster: active, sets: ownSet, set: "uid-now"},
		{name: "after a finished request", sets: ownSet, cluster: &demoCluster{status: v1alpha1.StatusActive,
			restore:    &v1alpha1.RestoreStatus{RequestID: earlier, Reason: v1alpha1.RestoreReasonRequested, Phase: v1alpha1.RestorePhaseFailed},
			annotation: requestJSON(earlier)}},
		{name: "unreadable request", cluster: &demoCluster{status: v1alpha1.StatusActive, annotation: "{not json"}, sets: ownSet},
		{name: "no cluster", sets: ownSet,
			want: errdefs.ErrNotFound, msg: `no cluster "demo"`},
		{name: "creating", cluster: &demoCluster{status: v1alpha1.StatusCreating}, sets: ownSet,
			want: errdefs.ErrInvalidRequest, msg: "is CREATING, not ACTIVE"},
		{name: "negative revision", cluster: active, sets: ownSet, revision: -1,
			want: errdefs.ErrInvalidParameter, msg: "got -1"},
		{name: "no backups", cluster: active, sets: func(*testing.T, *restoreFixture) {},
			want: errdefs.ErrNotFound, msg: "no full backup of cluster demo yet; take one with `cellplane backup create demo`"},
		{name: "only an older set", cluster: active, sets: func(t *testing.T, f *restoreFixture) { f.set(t, "uid-old", 50, 30) },
			want: errdefs.ErrNotFound, msg: "no full backup of cluster demo yet"},
		{name: "unknown set", cluster: active, sets: ownSet, set: "uid-x",
			want: errdefs.ErrNotFound, msg: `no backup set "uid-x"`},
		{name: "revision not backed up yet", cluster: active, sets: ownSet, revision: 201,
			want: errdefs.ErrNotFound, msg: "revision 201 is not backed up: the backups of cluster demo (set uid-now) reach revision 200"},
		{name: "revision before the oldest full", cluster: active, sets: ownSet, revision: 99,
			want: backup.ErrNoFull, msg: "cannot restore revision 99"},
		{name: "restore running", sets: ownSet, cluster: &demoCluster{status: v1alpha1.StatusActive,
			restore: &v1alpha1.RestoreStatus{Reason: v1alpha1.RestoreReasonQuorumLost, Phase: v1alpha1.RestorePhaseReplaying}},
			want: ErrRestoreInProgress, msg: "is being restored (Replaying, reason QuorumLost)"},
		{name: "request not answered", cluster: &demoCluster{status: v1alpha1.StatusActive, annotation: requestJSON(earlier)}, sets: ownSet,
			want: ErrRestoreInProgress, msg: "requested at " + earlier + " has not finished"},
		{name: "another request answered", sets: ownSet, cluster: &demoCluster{status: v1alpha1.StatusActive,
			restore:    &v1alpha1.RestoreStatus{RequestID: "older", Reason: v1alpha1.RestoreReasonRequested, Phase: v1alpha1.RestorePhaseDone},
			annotation: requestJSON(earlier)},
			want: ErrRestoreInProgress, msg: "has not finished"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newRestoreFixture(t)
			tc.sets(t, f)
			if tc.cluster != nil {
				tc.cluster.store(t, f)
			}
			cl := env.Client(t)
			before := restoreAnnotation(t, cl, f.account)
			var req v1alpha1.RestoreRequest
			var err error
			if tc.revision < 0 {
				// The public entry point checks the revision before connecting.
				req, err = f.b.RequestRestore(ctx, f.account, "demo", tc.revision, tc.set)
			} else {
				req, err = f.b.requestRestore(ctx, cl, f.account, "demo", v1alpha1.RestoreRequest{Revision: tc.revision, Set: tc.set})
			}
			if tc.want != nil {
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("requestRestore = %v, want %v saying %q", err, tc.want, tc.msg)
				}
				if after := restoreAnnotation(t, cl, f.account); after != before {
					t.Fatalf("a refused request changed the annotation from %q to %q", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantSet := tc.set
			if wantSet == "" {
				wantSet = "uid-now" // the set the cell reports, named so the cell restores what was checked
			}
			if _, err := time.Parse(time.RFC3339Nano, req.ID); err != nil || req.Revision != tc.revision || req.Set != wantSet {
				t.Fatalf("request = %+v (ID: %v)", req, err)
			}
			var got v1alpha1.RestoreRequest
			if err := json.Unmarshal([]byte(restoreAnnotation(t, cl, f.account)), &got); err != nil || got != req {
				t.Fatalf("annotation holds %+v (%v), want %+v", got, err, req)
			}
		})
	}
}

// ownSet gives demo its own set (a full at 100, incrementals to 200) and an
// older one of a deleted cluster of the same name (a full at 30, up to 50).
func ownSet(t *testing.T, f *restoreFixture) {
	f.set(t, "uid-now", 200, 100)
	f.set(t, "uid-old", 50, 30)
}

func restoreAnnotation(t *testing.T, cl client.Client, account string) string {
	t.Helper()
	var c v1alpha1.Cluster
	err := cl.Get(context.Background(), types.NamespacedName{Namespace: v1alpha1.Namespace(account), Name: v1alpha1.ObjectName("demo")}, &c)
	if client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	return c.Annotations[v1alpha1.AnnotationRestoreRequested]
}

func TestRequestRestoreRefusesTheSecondOfTwo(t *testing.T) {
	ctx := context.Background()
	f := newRestoreFixture(t)
	ownSet(t, f)
	(&demoCluster{status: v1alpha1.StatusActive}).store(t, f)
	cl := env.Client(t)
	first, err := f.b.requestRestore(ctx, cl, f.account, "demo", v1alpha1.RestoreRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.b.requestRestore(ctx, cl, f.account, "demo", v1alpha1.RestoreRequest{Revision: 150}); !errors.Is(err, ErrRestoreInProgress) {
		t.Fatalf("second request = %v, want ErrRestoreInProgress", err)
	}
	var got v1alpha1.RestoreRequest
	if err := json.Unmarshal([]byte(restoreAnnotation(t, cl, f.account)), &got); err != nil || got != first {
		t.Fatalf("annotation holds %+v (%v), want the first request %+v", got, err, first)
	}
}

// The request and the checks before it are one step: a request patched in
// between by another operator (the stored resourceVersion moved on) is
// seen on the retry, and refuses the second.
func TestRequestRestoreSeesAConcurrentRequest(t *testing.T) {
	ctx := context.Background()
	f := newRestoreFixture(t)
	ownSet(t, f)
	(&demoCluster{status: v1alpha1.StatusActive}).store(t, f)
	cl := env.Client(t)
	other := v1alpha1.RestoreRequest{ID: "2026-01-02T03:04:05Z"}
	racer := &racingClient{Client: cl, race: func() {
		c := &v1alpha1.Cluster{}
		key := types.NamespacedName{Namespace: v1alpha1.Namespace(f.account), Name: v1alpha1.ObjectName("demo")}
		if err := cl.Get(ctx, key, c); err != nil {
			t.Error(err)
			return
		}
		if err := patchRestoreRequest(ctx, cl, c, other); err != nil {
			t.Error(err)
		}
	}}
	if _, err := f.b.requestRestore(ctx, racer, f.account, "demo", v1alpha1.RestoreRequest{}); !errors.Is(err, ErrRestoreInProgress) {
		t.Fatalf("request racing another = %v, want ErrRestoreInProgress", err)
	}
	var got v1alpha1.RestoreRequest
	if err := json.Unmarshal([]byte(restoreAnnotation(t, cl, f.account)), &got); err != nil || got != other {
		t.Fatalf("annotation holds %+v (%v), want the other operator's %+v", got, err, other)
	}
}

// racingClient runs race once, just before the first patch it is asked for.
type racingClient struct {
	client.Client
	race func()
	done bool
}

func (r *racingClient) Patch(ctx context.Context, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
	if !r.done {
		r.done = true
		r.race()
	}
	return r.Client.Patch(ctx, obj, p, opts...)
}
