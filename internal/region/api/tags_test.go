package api

import (
	"encoding/json"
	"maps"
	"net/url"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/internal/eks"
)

// arn names resource ("cluster/demo") of the harness's account in region.
func (h *harness) arn(region, resource string) string {
	return "arn:cellplane:eks:" + region + ":" + h.account + ":" + resource
}

func tagsPath(arn string) string { return "/tags/" + url.PathEscape(arn) }

func (r response) tags(t *testing.T) map[string]string {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var out eks.TagsOutput
	if err := json.Unmarshal(r.body, &out); err != nil || out.Tags == nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return out.Tags
}

func TestTagging(t *testing.T) {
	h := newHarness(t)
	demoARN := h.arn("local", "cluster/demo")
	h.create(eks.CreateClusterInput{Name: "demo", Tags: map[string]string{"team": "a"}})
	if got := h.do("GET", tagsPath(demoARN), nil).tags(t); !maps.Equal(got, map[string]string{"team": "a"}) {
		t.Fatalf("initial tags %v", got)
	}
	if r := h.do("POST", tagsPath(demoARN), eks.TagResourceInput{Tags: map[string]string{"team": "b", "env": "dev"}}); r.status != 200 || strings.TrimSpace(string(r.body)) != "{}" {
		t.Fatalf("tag: %d %s", r.status, r.body)
	}
	// The SDKs escape every reserved character; plain clients may not escape any.
	if got := h.do("GET", "/tags/arn%3Acellplane%3Aeks%3Alocal%3A"+h.account+"%3Acluster%2Fdemo", nil).tags(t); got["env"] != "dev" {
		t.Fatalf("fully escaped ARN: %v", got)
	}
	if got := h.do("GET", "/tags/"+demoARN, nil).tags(t); !maps.Equal(got, map[string]string{"team": "b", "env": "dev"}) {
		t.Fatalf("after tagging %v", got)
	}
	if r := h.do("DELETE", tagsPath(demoARN)+"?tagKeys=team&tagKeys=absent", nil); r.status != 200 {
		t.Fatalf("untag: %d %s", r.status, r.body)
	}
	if got := h.stored("demo").Spec.Tags; !maps.Equal(got, map[string]string{"env": "dev"}) {
		t.Fatalf("stored tags %v", got)
	}
	h.do("DELETE", tagsPath(demoARN)+"?tagKeys=env", nil)
	if got := h.do("GET", tagsPath(demoARN), nil).tags(t); len(got) != 0 {
		t.Fatalf("after removing all %v", got)
	}
	if d := h.do("GET", "/clusters/demo", nil).cluster(t); d.Arn != demoARN {
		t.Fatalf("describe arn %s, tagging used %s", d.Arn, demoARN)
	}
}

func TestTaggingErrors(t *testing.T) {
	h := newHarness(t)
	demoARN := h.arn("local", "cluster/demo")
	h.create(eks.CreateClusterInput{Name: "demo", Tags: map[string]string{"keep": "me"}})
	many := map[string]string{}
	for i := range 50 {
		many[strings.Repeat("k", i+1)] = "v"
	}
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		typ, msg           string
	}{
		{"malformed arn", "GET", tagsPath("not-an-arn"), nil, 400, eks.BadRequestException, "not valid"},
		{"other partition", "GET", tagsPath("arn:aws:eks:local:" + h.account + ":cluster/demo"), nil, 400, eks.BadRequestException, "not valid"},
		{"nodegroup arn", "GET", tagsPath(h.arn("local", "nodegroup/demo/x")), nil, 400, eks.BadRequestException, "not valid"},
		{"bad account", "GET", tagsPath("arn:cellplane:eks:local:12:cluster/demo"), nil, 400, eks.BadRequestException, "not valid"},
		{"bad name", "GET", tagsPath(h.arn("local", "cluster/bad.name")), nil, 400, eks.BadRequestException, "not valid"},
		{"other account", "GET", tagsPath("arn:cellplane:eks:local:111111111111:cluster/demo"), nil, 404, eks.NotFoundException, "No resource found"},
		{"other region", "GET", tagsPath(h.arn("elsewhere", "cluster/demo")), nil, 404, eks.NotFoundException, "No resource found"},
		{"unknown cluster", "GET", tagsPath(h.arn("local", "cluster/nosuch")), nil, 404, eks.NotFoundException, "cluster/nosuch"},
		{"tag unknown cluster", "POST", tagsPath(h.arn("local", "cluster/nosuch")), eks.TagResourceInput{Tags: map[string]string{"a": "b"}}, 404, eks.NotFoundException, "No resource found"},
		{"untag unknown cluster", "DELETE", tagsPath(h.arn("local", "cluster/nosuch")) + "?tagKeys=a", nil, 404, eks.NotFoundException, "No resource found"},
		{"no tags", "POST", tagsPath(demoARN), eks.TagResourceInput{}, 400, eks.BadRequestException, "at least one tag"},
		{"aws prefix", "POST", tagsPath(demoARN), eks.TagResourceInput{Tags: map[string]string{"aws:x": "y"}}, 400, eks.BadRequestException, "reserved"},
		{"bad value", "POST", tagsPath(demoARN), eks.TagResourceInput{Tags: map[string]string{"k": "a\x00"}}, 400, eks.BadRequestException, "may contain only"},
		{"too many after merge", "POST", tagsPath(demoARN), eks.TagResourceInput{Tags: many}, 400, eks.ResourceLimitExceededException, "at most 50 tags; this would give it 51"},
		{"not json", "POST", tagsPath(demoARN), "{", 400, eks.BadRequestException, "JSON"},
		{"no tag keys", "DELETE", tagsPath(demoARN), nil, 400, eks.BadRequestException, "tagKeys"},
		{"wrong method", "PUT", tagsPath(demoARN), nil, 405, eks.ClientException, "not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.do(tc.method, tc.path, tc.body).wantError(t, tc.status, tc.typ, tc.msg)
			if got := h.stored("demo").Spec.Tags; !maps.Equal(got, map[string]string{"keep": "me"}) {
				t.Fatalf("bad request changed the tags: %v", got)
			}
		})
	}
}
