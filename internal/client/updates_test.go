package client

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"testing"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestTaggingMethods(t *testing.T) {
	r := newRegion(t)
	ctx := context.Background()
	cl, err := r.client.CreateCluster(ctx, CreateClusterInput{Name: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.client.TagResource(ctx, cl.Arn, map[string]string{"a": "1", "b": "2"}); err != nil {
		t.Fatal(err)
	}
	if err := r.client.UntagResource(ctx, cl.Arn, "a"); err != nil {
		t.Fatal(err)
	}
	tags, err := r.client.ListTagsForResource(ctx, cl.Arn)
	if err != nil || !maps.Equal(tags, map[string]string{"b": "2"}) {
		t.Fatalf("tags %v, %v", tags, err)
	}
	var apiErr *eks.APIError
	err = r.client.TagResource(ctx, "garbage", map[string]string{"a": "1"})
	if !errors.As(err, &apiErr) || apiErr.Type != eks.BadRequestException || !errors.Is(err, errdefs.ErrInvalidParameter) {
		t.Fatalf("bad ARN: %v", err)
	}
	_, err = r.client.ListTagsForResource(ctx, "arn:cellplane:eks:local:"+r.account+":cluster/nosuch")
	if !errors.As(err, &apiErr) || apiErr.Type != eks.NotFoundException {
		t.Fatalf("unknown cluster: %v", err)
	}
}

func TestUpdateMethods(t *testing.T) {
	r := newRegion(t)
	ctx := context.Background()
	if _, err := r.client.CreateCluster(ctx, CreateClusterInput{Name: "demo"}); err != nil {
		t.Fatal(err)
	}
	r.pushStatus("demo", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive})
	u, err := r.client.UpdateClusterConfig(ctx, "demo", UpdateClusterConfigInput{Logging: json.RawMessage(`{"clusterLogging":[]}`)})
	if err != nil || u.Status != eks.UpdateStatusSuccessful {
		t.Fatalf("update %+v, %v", u, err)
	}
	got, err := r.client.DescribeUpdate(ctx, "demo", u.ID)
	if err != nil || got.ID != u.ID {
		t.Fatalf("describe %+v, %v", got, err)
	}
	ids, next, err := r.client.ListUpdates(ctx, "demo", 1, "")
	if err != nil || len(ids) != 1 || ids[0] != u.ID || next != "" {
		t.Fatalf("list %v %q %v", ids, next, err)
	}
	_, err = r.client.UpdateClusterVersion(ctx, "demo", "1.35", "")
	if !errors.Is(err, errdefs.ErrInvalidParameter) {
		t.Fatalf("same version: %v", err)
	}
	if _, err := r.client.DescribeUpdate(ctx, "demo", "nosuch"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("unknown update: %v", err)
	}
	vs, err := r.client.DescribeClusterVersions(ctx, DescribeClusterVersionsInput{DefaultOnly: true, MaxResults: 1})
	if err != nil || len(vs.ClusterVersions) != 1 || !vs.ClusterVersions[0].DefaultVersion {
		t.Fatalf("versions %+v, %v", vs, err)
	}
}
