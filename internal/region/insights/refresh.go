package insights

import (
	"fmt"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/redact"
)

// StartRefresh serves StartInsightsRefresh: POST
// /clusters/{name}/insights-refresh. It records the request on the cluster
// (AnnotationInsightsRefreshRequested) for the cell to answer; while one is
// pending, another start answers with it instead of queueing a second.
func (o *Operations) StartRefresh(r *http.Request) (any, error) {
	c, err := o.Clusters.Cluster(r)
	if err != nil {
		return nil, err
	}
	if err := o.Clusters.RequireActive(c); err != nil {
		return nil, err
	}
	if pending(c) {
		return eks.StartInsightsRefreshOutput{Status: eks.InsightsRefreshInProgress,
			Message: "An insights refresh of cluster " + c.Spec.Name + " is already in progress."}, nil
	}
	orig := c.DeepCopy()
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[v1alpha1.AnnotationInsightsRefreshRequested] = o.now().UTC().Format(time.RFC3339Nano)
	// The resource version in the patch makes two concurrent starts one
	// request: the second conflicts and is retried by its caller.
	if err := o.Store.Patch(r.Context(), c, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return nil, fmt.Errorf("recording insights refresh of %s: %w", c.Spec.Name, err)
	}
	return eks.StartInsightsRefreshOutput{Status: eks.InsightsRefreshInProgress,
		Message: "Started an insights refresh of cluster " + c.Spec.Name + "."}, nil
}

// DescribeRefresh serves DescribeInsightsRefresh: GET
// /clusters/{name}/insights-refresh, the state of the latest refresh asked for.
func (o *Operations) DescribeRefresh(r *http.Request) (any, error) {
	c, err := o.Clusters.Cluster(r)
	if err != nil {
		return nil, err
	}
	asked, ok := c.Annotations[v1alpha1.AnnotationInsightsRefreshRequested]
	if !ok {
		return nil, errdefs.Publicf(errdefs.ErrNotFound, "No insights refresh was started for cluster %s.", c.Spec.Name)
	}
	started, _ := time.Parse(time.RFC3339Nano, asked)
	if pending(c) {
		return eks.DescribeInsightsRefreshOutput{Status: eks.InsightsRefreshInProgress, StartedAt: eks.NewTimestamp(started),
			Message: "The cell is computing the insights of cluster " + c.Spec.Name + "."}, nil
	}
	st := c.Status.Insights
	// The cell's message may name host addresses and paths of a failure.
	return eks.DescribeInsightsRefreshOutput{Status: st.Phase, Message: redact.Text(st.Message), StartedAt: eks.NewTimestamp(started), EndedAt: microTimeOf(st.EndedAt)}, nil
}

// pending reports a refresh asked for that the cell has not answered yet.
func pending(c *v1alpha1.Cluster) bool {
	asked, ok := c.Annotations[v1alpha1.AnnotationInsightsRefreshRequested]
	return ok && (c.Status.Insights == nil || c.Status.Insights.Request != asked)
}

func (o *Operations) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func microTimeOf(t *metav1.MicroTime) *eks.Timestamp {
	if t == nil {
		return nil
	}
	return eks.NewTimestamp(t.Time)
}
