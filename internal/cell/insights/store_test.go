package insights

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/insights"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

// fakeGather serves fixed gatherings, or fails.
type fakeGather struct {
	usage string // an apiserver_requested_deprecated_apis line
	err   error
}

func (f *fakeGather) Gather(context.Context, *v1alpha1.Cluster, time.Time) (Gathered, error) {
	if f.err != nil {
		return Gathered{}, f.err
	}
	u := insights.NewUsage()
	if err := u.AddMetrics(strings.NewReader(f.usage)); err != nil {
		return Gathered{}, err
	}
	return Gathered{Usage: u, Nodes: []insights.Node{{Name: "n1", KubeletVersion: "v1.36.3"}}}, nil
}

const servicecidrs = `apiserver_requested_deprecated_apis{group="networking.k8s.io",removed_release="1.37",resource="servicecidrs",subresource="",version="v1beta1"} 1`

// On a real store: a refresh writes status.insights through the CRD's schema,
// answers a request, keeps the last insights when it fails, and survives the
// lifecycle's own status patches.
func TestRefreshOnStore(t *testing.T) {
	ctx := context.Background()
	cl := env.Client(t)
	c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: env.Namespace(t), Name: "demo"},
		Spec: v1alpha1.ClusterSpec{Name: "demo", Version: "1.36", Cell: "cell-1"}}
	env.Create(t, c)
	slot := int32(3)
	c.Status.Status, c.Status.Slot = v1alpha1.StatusActive, &slot
	if err := cl.Status().Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	g := &fakeGather{usage: servicecidrs}
	r := &Reconciler{Client: cl, Gather: g, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Interval: DefaultInterval, Now: func() time.Time { return now }}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(c)}
	get := func() *v1alpha1.InsightsStatus {
		t.Helper()
		var got v1alpha1.Cluster
		if err := cl.Get(ctx, req.NamespacedName, &got); err != nil {
			t.Fatal(err)
		}
		if got.Status.Status != v1alpha1.StatusActive {
			t.Fatalf("status.status lost: %q", got.Status.Status)
		}
		return got.Status.Insights
	}

	res, err := r.Reconcile(ctx, req)
	if err != nil || res.RequeueAfter != DefaultInterval {
		t.Fatalf("first refresh: %v %+v", err, res)
	}
	st := get()
	if st == nil || st.Phase != eks.InsightsRefreshCompleted || len(st.Items) != 6 || st.Request != "" {
		t.Fatalf("after the first refresh: %+v", st)
	}
	if res, _ := r.Reconcile(ctx, req); res.RequeueAfter != DefaultInterval {
		t.Fatalf("refreshed again with nothing due: %+v", res)
	}

	// A request is answered; a failing refresh keeps the insights.
	g.err = errors.New("no API server answers")
	var cur v1alpha1.Cluster
	if err := cl.Get(ctx, req.NamespacedName, &cur); err != nil {
		t.Fatal(err)
	}
	orig := cur.DeepCopy()
	cur.Annotations = map[string]string{v1alpha1.AnnotationInsightsRefreshRequested: "t1"}
	if err := cl.Patch(ctx, &cur, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	st = get()
	if st.Request != "t1" || st.Phase != eks.InsightsRefreshFailed || !strings.Contains(st.Message, "no API server answers") || len(st.Items) != 6 {
		t.Fatalf("after a failed refresh: %+v", st)
	}

	// The lifecycle patches status from its own copy: insights stay.
	if err := cl.Get(ctx, req.NamespacedName, &cur); err != nil {
		t.Fatal(err)
	}
	orig = cur.DeepCopy()
	cur.Status.Reason = "something else"
	if err := cl.Status().Patch(ctx, &cur, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	if st := get(); st == nil || st.Request != "t1" || len(st.Items) != 6 {
		t.Fatalf("a lifecycle patch changed the insights: %+v", st)
	}
	// A successful refresh clears the failure's message.
	g.err = nil
	cur.Annotations[v1alpha1.AnnotationInsightsRefreshRequested] = "t2"
	if err := cl.Update(ctx, &cur); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if st := get(); st.Request != "t2" || st.Phase != eks.InsightsRefreshCompleted || strings.Contains(st.Message, "no API server") {
		t.Fatalf("after a second request: %+v", st)
	}
}
