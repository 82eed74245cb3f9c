package api

import (
	"context"
	"errors"
	"maps"
	"net/http"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// listTags serves ListTagsForResource: GET /tags/{resourceArn}.
func (s *server) listTags(r *http.Request) (any, error) {
	c, err := s.clusterByARN(r)
	if err != nil {
		return nil, err
	}
	return eks.TagsOutput{Tags: tagsOf(c)}, nil
}

// tagResource serves TagResource: POST /tags/{resourceArn}. Tags are merged into
// the cluster's, new values winning, within the limits CreateCluster applies.
func (s *server) tagResource(r *http.Request) (any, error) {
	var in eks.TagResourceInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, rekind(err, errBadRequest)
	}
	if len(in.Tags) == 0 {
		return nil, errdefs.Publicf(errBadRequest, "The tags field is required and must hold at least one tag.")
	}
	if err := eksinput.ValidateTags(in.Tags); err != nil {
		return nil, rekind(err, errBadRequest)
	}
	c, err := s.clusterByARN(r)
	if err != nil {
		return nil, err
	}
	err = s.editTags(r.Context(), accountFor(r), c, func(tags map[string]string) error {
		maps.Copy(tags, in.Tags)
		return rekind(eksinput.ValidateTags(tags), errBadRequest)
	})
	return eks.EmptyOutput{}, err
}

// untagResource serves UntagResource: DELETE /tags/{resourceArn}?tagKeys=k1&tagKeys=k2.
// Keys the cluster does not have are ignored, as EKS does.
func (s *server) untagResource(r *http.Request) (any, error) {
	keys := r.URL.Query()[eks.QueryTagKeys]
	if len(keys) == 0 {
		return nil, errdefs.Publicf(errBadRequest, "The tagKeys parameter is required: name at least one tag key to remove.")
	}
	c, err := s.clusterByARN(r)
	if err != nil {
		return nil, err
	}
	err = s.editTags(r.Context(), accountFor(r), c, func(tags map[string]string) error {
		for _, k := range keys {
			delete(tags, k)
		}
		return nil
	})
	return eks.EmptyOutput{}, err
}

// editTags applies edit to the cluster's tags and stores them, re-reading the
// cluster when another request changed it in between: tag edits commute, so a
// conflict is retried rather than surfaced.
func (s *server) editTags(ctx context.Context, account string, c *v1alpha1.Cluster, edit func(map[string]string) error) error {
	return s.updateCluster(ctx, account, c, func(c *v1alpha1.Cluster) error {
		tags := maps.Clone(c.Spec.Tags)
		if tags == nil {
			tags = map[string]string{}
		}
		if err := edit(tags); err != nil {
			return err
		}
		if maps.Equal(tags, c.Spec.Tags) || (len(tags) == 0 && len(c.Spec.Tags) == 0) {
			return errNoChange
		}
		c.Spec.Tags = tags
		if len(tags) == 0 {
			c.Spec.Tags = nil
		}
		return nil
	})
}

// clusterByARN finds the cluster a tagging request names. A malformed ARN is a
// BadRequestException; an ARN of another region or account, or of a cluster that
// does not exist, is a NotFoundException, so that callers learn nothing about
// other accounts' clusters.
func (s *server) clusterByARN(r *http.Request) (*v1alpha1.Cluster, error) {
	arn := r.PathValue("resourceArn")
	account := accountFor(r)
	region, owner, name, ok := eksinput.ClusterARN(arn)
	if !ok {
		return nil, errdefs.Publicf(errBadRequest, "The resource ARN %q is not valid: expected arn:cellplane:eks:<region>:<account>:cluster/<name>.", arn)
	}
	noteCluster(r, name)
	if region != s.region || owner != account {
		return nil, resourceNotFound(arn)
	}
	c, err := s.getCluster(r.Context(), account, name)
	if isNotFound(err) {
		return nil, resourceNotFound(arn)
	}
	return c, err
}

func resourceNotFound(arn string) error {
	return errdefs.Publicf(errResourceNotFoundByARN, "No resource found for ARN: %s.", arn)
}

// rekind keeps a public error's message but gives it another kind, for
// operations whose model names other error types than CreateCluster's. A
// limit stays a limit.
func rekind(err, kind error) error {
	var pub *errdefs.PublicError
	if !errors.As(err, &pub) || errors.Is(err, errdefs.ErrLimitExceeded) {
		return err
	}
	return &errdefs.PublicError{Kind: kind, Msg: pub.Msg}
}

// isNotFound reports whether err is the cluster-not-found answer.
func isNotFound(err error) bool {
	return err != nil && classify(err).typ == eks.ResourceNotFoundException
}
