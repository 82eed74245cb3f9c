package insights

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
)

// MaxClients bounds the user agents kept per API, the busiest first, so a
// cluster with many clients keeps its status small.
const MaxClients = 20

// API is one deprecated API, as kube-apiserver labels it.
type API struct {
	Group, Version, Resource, Subresource string
	// RemovedRelease is the minor that no longer serves it, e.g. "1.37".
	RemovedRelease string
}

// Path is the API's URL path, which EKS reports as its usage.
func (a API) Path() string {
	p := "/apis/" + a.Group + "/" + a.Version + "/" + a.Resource
	if a.Group == "" {
		p = "/api/" + a.Version + "/" + a.Resource
	}
	if a.Subresource != "" {
		p += "/*/" + a.Subresource
	}
	return p
}

// clientUse is one user agent's calls of one API.
type clientUse struct {
	requests int
	last     time.Time
}

// Usage is the deprecated API use of a cluster, merged over its API servers.
type Usage struct {
	// apis maps each API used to its callers by user agent; an API the
	// metrics name but no audit record in the window does has none.
	apis map[API]map[string]*clientUse
}

// NewUsage returns an empty Usage.
func NewUsage() *Usage { return &Usage{apis: map[API]map[string]*clientUse{}} }

func (u *Usage) api(a API) map[string]*clientUse {
	if u.apis[a] == nil {
		u.apis[a] = map[string]*clientUse{}
	}
	return u.apis[a]
}

// deprecatedMetric is the gauge kube-apiserver sets to 1 for every
// deprecated API requested since it started (apiserver/pkg/endpoints/
// deprecation), labelled with the release that removes it.
const deprecatedMetric = "apiserver_requested_deprecated_apis"

// AddMetrics reads one API server's /metrics text.
func (u *Usage) AddMetrics(r io.Reader) error {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		line := s.Text()
		if !strings.HasPrefix(line, deprecatedMetric+"{") {
			continue
		}
		labels, ok := parseLabels(line[len(deprecatedMetric):])
		if !ok {
			return fmt.Errorf("reading metrics: malformed line %q", line)
		}
		if labels["removed_release"] == "" {
			continue // deprecated, but no removal is planned
		}
		u.api(API{Group: labels["group"], Version: labels["version"], Resource: labels["resource"],
			Subresource: labels["subresource"], RemovedRelease: labels["removed_release"]})
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("reading metrics: %w", err)
	}
	return nil
}

// parseLabels reads `{a="x",b="y"} 1` into its labels. Values are quoted
// with Prometheus's escapes (\\, \", \n).
func parseLabels(s string) (map[string]string, bool) {
	if !strings.HasPrefix(s, "{") {
		return nil, false
	}
	out := map[string]string{}
	s = s[1:]
	for {
		s = strings.TrimLeft(s, ", ")
		if strings.HasPrefix(s, "}") {
			return out, true
		}
		name, rest, ok := strings.Cut(s, "=\"")
		if !ok {
			return nil, false
		}
		var v strings.Builder
		i := 0
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
				if rest[i] == 'n' {
					v.WriteByte('\n')
					continue
				}
			}
			v.WriteByte(rest[i])
		}
		if i == len(rest) {
			return nil, false
		}
		out[strings.TrimSpace(name)] = v.String()
		s = rest[i+1:]
	}
}

// auditEvent is the part of an audit.k8s.io/v1 Event read here.
type auditEvent struct {
	Stage                    string            `json:"stage"`
	UserAgent                string            `json:"userAgent"`
	RequestReceivedTimestamp time.Time         `json:"requestReceivedTimestamp"`
	Annotations              map[string]string `json:"annotations"`
	ObjectRef                *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		APIGroup    string `json:"apiGroup"`
		APIVersion  string `json:"apiVersion"`
	} `json:"objectRef"`
}

// removedReleaseAnnotation is set by kube-apiserver on the audit event of
// every request of a deprecated API whose removal is planned.
const removedReleaseAnnotation = "k8s.io/removed-release"

// AddAudit reads one API server's audit log (one JSON event a line) and
// counts the requests of deprecated APIs received at or after since, by user
// agent. Each request counts once: at its ResponseComplete (or Panic) event.
func (u *Usage) AddAudit(r io.Reader, since time.Time) error {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 4<<20)
	for s.Scan() {
		line := s.Bytes()
		// Most lines name no deprecated API: skip them without decoding.
		if !strings.Contains(string(line), removedReleaseAnnotation) {
			continue
		}
		var ev auditEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			continue // a line cut short by a crash or a rotation
		}
		u.addEvent(&ev, since)
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("reading audit log: %w", err)
	}
	return nil
}

func (u *Usage) addEvent(ev *auditEvent, since time.Time) {
	removed := ev.Annotations[removedReleaseAnnotation]
	if removed == "" || ev.ObjectRef == nil || (ev.Stage != "ResponseComplete" && ev.Stage != "Panic") ||
		ev.RequestReceivedTimestamp.Before(since) {
		return
	}
	o := ev.ObjectRef
	callers := u.api(API{Group: o.APIGroup, Version: o.APIVersion, Resource: o.Resource, Subresource: o.Subresource, RemovedRelease: removed})
	c := callers[ev.UserAgent]
	if c == nil {
		c = &clientUse{}
		callers[ev.UserAgent] = c
	}
	c.requests++
	if ev.RequestReceivedTimestamp.After(c.last) {
		c.last = ev.RequestReceivedTimestamp
	}
}

// removedIn lists the APIs used that minor no longer serves, by path.
func (u *Usage) removedIn(minor string) []API {
	var out []API
	for a := range u.apis {
		if a.RemovedRelease == minor {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b API) int { return cmp.Compare(a.Path(), b.Path()) })
	return out
}

// clients are an API's callers, the busiest first, at most MaxClients.
func (u *Usage) clients(a API) []v1alpha1.InsightClient {
	var out []v1alpha1.InsightClient
	for ua, c := range u.apis[a] {
		last := metav1.NewTime(c.last)
		out = append(out, v1alpha1.InsightClient{UserAgent: ua, Requests: int32(min(c.requests, math.MaxInt32)), LastRequestTime: &last}) //nolint:gosec // G115: capped to int32 first
	}
	slices.SortFunc(out, func(a, b v1alpha1.InsightClient) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.UserAgent, b.UserAgent))
	})
	return out[:min(len(out), MaxClients)]
}

// insight is the deprecated-API insight about minor: status bad (ERROR for
// the next minor, WARNING for the one after) when an API it removes is used.
func (u *Usage) insight(minor, bad string) v1alpha1.ClusterInsight {
	ins := v1alpha1.ClusterInsight{Name: DeprecatedName(minor), Category: eks.InsightCategoryUpgradeReadiness, KubernetesVersion: minor,
		Description: "Checks for use of deprecated APIs that Kubernetes v" + minor + " no longer serves, from the API servers' metrics and audit logs.",
		Status:      eks.InsightStatusPassing, Reason: "No deprecated API removed in Kubernetes v" + minor + " was called in the last 30 days."}
	apis := u.removedIn(minor)
	if len(apis) == 0 {
		return ins
	}
	var paths []string
	for _, a := range apis {
		d := v1alpha1.InsightDeprecation{Usage: a.Path(), ReplacedWith: ReplacementOf(a), StopServingVersion: minor, Clients: u.clients(a)}
		ins.Deprecations = append(ins.Deprecations, d)
		paths = append(paths, a.Path())
	}
	ins.Status = bad
	ins.Reason = fmt.Sprintf("Deprecated APIs removed in Kubernetes v%s were called: %s.", minor, strings.Join(paths, ", "))
	ins.Recommendation = "Move every client and manifest that uses these APIs to their replacement versions before upgrading to Kubernetes v" + minor +
		": their requests fail after the upgrade. The client statistics name the user agents that called them in the last 30 days."
	return ins
}
