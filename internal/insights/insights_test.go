package insights

import (
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

const metricsText = `# HELP apiserver_requested_deprecated_apis [STABLE] Gauge of deprecated APIs that have been requested, broken out by API group, version, resource, subresource, and removed_release.
# TYPE apiserver_requested_deprecated_apis gauge
apiserver_requested_deprecated_apis{group="networking.k8s.io",removed_release="1.37",resource="servicecidrs",subresource="",version="v1beta1"} 1
apiserver_requested_deprecated_apis{group="storage.k8s.io",removed_release="1.38",resource="volumeattributesclasses",subresource="",version="v1beta1"} 1
apiserver_requested_deprecated_apis{group="example.io",removed_release="",resource="widgets",subresource="",version="v1beta1"} 1
apiserver_request_total{code="200"} 5
`

func auditLine(stage, ua, removed string, at time.Time) string {
	return `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","stage":"` + stage +
		`","requestURI":"/apis/networking.k8s.io/v1beta1/servicecidrs","verb":"list","userAgent":"` + ua +
		`","objectRef":{"resource":"servicecidrs","apiGroup":"networking.k8s.io","apiVersion":"v1beta1"},"requestReceivedTimestamp":"` +
		at.Format(time.RFC3339Nano) + `","stageTimestamp":"` + at.Format(time.RFC3339Nano) +
		`","annotations":{"k8s.io/deprecated":"true","k8s.io/removed-release":"` + removed + `"}}`
}

func usageOf(t *testing.T) *Usage {
	t.Helper()
	u := NewUsage()
	if err := u.AddMetrics(strings.NewReader(metricsText)); err != nil {
		t.Fatal(err)
	}
	audit := strings.Join([]string{
		auditLine("ResponseComplete", "old-client/1.0", "1.37", now.Add(-time.Hour)),
		auditLine("ResponseComplete", "old-client/1.0", "1.37", now.Add(-2*time.Hour)),
		auditLine("ResponseStarted", "old-client/1.0", "1.37", now.Add(-time.Hour)),          // counted at completion only
		auditLine("ResponseComplete", "ancient/0.1", "1.37", now.Add(-31*24*time.Hour)),      // outside the window
		`{"kind":"Event","stage":"ResponseComplete","userAgent":"kubectl","annotations":{}}`, // not deprecated
		`{"kind":"Event","annotations":{"k8s.io/removed-release":"1.37"`,                     // cut short
	}, "\n")
	if err := u.AddAudit(strings.NewReader(audit), now.Add(-Window)); err != nil {
		t.Fatal(err)
	}
	// A second API server's log adds to the same client.
	if err := u.AddAudit(strings.NewReader(auditLine("ResponseComplete", "old-client/1.0", "1.37", now.Add(-time.Minute))), now.Add(-Window)); err != nil {
		t.Fatal(err)
	}
	return u
}

func byName(t *testing.T, items []v1alpha1.ClusterInsight, name string) v1alpha1.ClusterInsight {
	t.Helper()
	for _, i := range items {
		if i.Name == name {
			return i
		}
	}
	t.Fatalf("no insight %q in %+v", name, items)
	return v1alpha1.ClusterInsight{}
}

func TestDeprecatedAPIs(t *testing.T) {
	items, err := Compute(Input{ClusterUID: "uid", Version: "1.36", Now: now, Usage: usageOf(t)})
	if err != nil {
		t.Fatal(err)
	}
	next := byName(t, items, DeprecatedName("1.37"))
	if next.Status != eks.InsightStatusError || next.KubernetesVersion != "1.37" || next.Category != eks.InsightCategoryUpgradeReadiness {
		t.Fatalf("1.37 insight: %+v", next)
	}
	if len(next.Deprecations) != 1 {
		t.Fatalf("deprecations: %+v", next.Deprecations)
	}
	d := next.Deprecations[0]
	if d.Usage != "/apis/networking.k8s.io/v1beta1/servicecidrs" || d.StopServingVersion != "1.37" {
		t.Fatalf("deprecation: %+v", d)
	}
	if len(d.Clients) != 1 || d.Clients[0].UserAgent != "old-client/1.0" || d.Clients[0].Requests != 3 ||
		!d.Clients[0].LastRequestTime.Time.Equal(now.Add(-time.Minute)) {
		t.Fatalf("clients: %+v", d.Clients)
	}
	after := byName(t, items, DeprecatedName("1.38"))
	if after.Status != eks.InsightStatusWarning || len(after.Deprecations) != 1 || len(after.Deprecations[0].Clients) != 0 {
		t.Fatalf("1.38 insight (known from the metrics only): %+v", after)
	}
	clean, _ := Compute(Input{ClusterUID: "uid", Version: "1.36", Now: now})
	if got := byName(t, clean, DeprecatedName("1.37")); got.Status != eks.InsightStatusPassing || got.ID != next.ID {
		t.Fatalf("without use: %+v (ID %s, was %s)", got, got.ID, next.ID)
	}
}

func TestParseLabels(t *testing.T) {
	got, ok := parseLabels(`{a="x\"y",b="",c="z\\"} 1`)
	if !ok || got["a"] != `x"y` || got["b"] != "" || got["c"] != `z\` {
		t.Fatalf("%v %v", got, ok)
	}
	for _, bad := range []string{`a="x"`, `{a="x`, `{a}`} {
		if _, ok := parseLabels(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
	if err := NewUsage().AddMetrics(strings.NewReader(`apiserver_requested_deprecated_apis{group="x 1`)); err == nil {
		t.Error("malformed metrics line accepted")
	}
}

func TestKubeletSkew(t *testing.T) {
	for _, tc := range []struct {
		name   string
		nodes  []Node
		err    error
		status string
		bad    int
	}{
		{"no nodes", nil, nil, eks.InsightStatusPassing, 0},
		{"within", []Node{{"a", "v1.36.3"}, {"b", "v1.34.1"}}, nil, eks.InsightStatusPassing, 0},
		{"too old after upgrade", []Node{{"a", "v1.36.3"}, {"b", "v1.33.9"}}, nil, eks.InsightStatusError, 1},
		{"newer than the control plane, healed by the upgrade", []Node{{"a", "v1.37.0"}}, nil, eks.InsightStatusWarning, 1},
		{"newer than the target", []Node{{"a", "v1.38.0"}, {"b", "v1.37.0"}}, nil, eks.InsightStatusError, 2},
		{"garbage", []Node{{"a", "banana"}}, nil, eks.InsightStatusWarning, 1},
		{"unlisted", nil, errors.New("timeout"), eks.InsightStatusUnknown, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ins := kubeletSkew("1.36", "1.37", tc.nodes, tc.err)
			if ins.Status != tc.status || len(ins.Resources) != tc.bad || ins.Reason == "" {
				t.Fatalf("%+v", ins)
			}
		})
	}
}

func TestAddonCompatibility(t *testing.T) {
	catalogue := func(addon, minor string) []string { return []string{addon + "-" + minor} }
	ins := addonCompatibility("1.37", []Addon{{"kube-proxy", "kube-proxy-1.36"}, {"coredns", "coredns-1.37"}}, catalogue)
	if ins.Status != eks.InsightStatusWarning || len(ins.Addons) != 2 || !strings.Contains(ins.Reason, "kube-proxy") || strings.Contains(ins.Reason, "coredns") {
		t.Fatalf("%+v", ins)
	}
	if ins := addonCompatibility("1.37", []Addon{{"coredns", "coredns-1.37"}}, catalogue); ins.Status != eks.InsightStatusPassing {
		t.Fatalf("%+v", ins)
	}
	if ins := addonCompatibility("1.37", nil, nil); ins.Status != eks.InsightStatusPassing {
		t.Fatalf("%+v", ins)
	}
}

func TestRollbackAndTransitions(t *testing.T) {
	first, _ := Compute(Input{ClusterUID: "uid", Version: "1.36", Now: now})
	rb := byName(t, first, NameRollback)
	if rb.Status != eks.InsightStatusUnknown || rb.Category != eks.InsightCategoryRollbackReadiness || rb.KubernetesVersion != "1.36" {
		t.Fatalf("%+v", rb)
	}
	later := now.Add(time.Hour)
	second, _ := Compute(Input{ClusterUID: "uid", Version: "1.36", Now: later, Previous: first, Usage: usageOf(t),
		Rollback: &Verdict{Status: eks.InsightStatusPassing, Reason: "ok"}})
	if got := byName(t, second, NameKubeletSkew); !got.LastTransitionTime.Time.Equal(now) || !got.LastRefreshTime.Time.Equal(later) {
		t.Fatalf("unchanged status kept no transition time: %+v", got)
	}
	if got := byName(t, second, DeprecatedName("1.37")); !got.LastTransitionTime.Time.Equal(later) {
		t.Fatalf("changed status kept the old transition time: %+v", got)
	}
	if got := byName(t, second, NameRollback); got.Status != eks.InsightStatusPassing {
		t.Fatalf("%+v", got)
	}
	if _, err := Compute(Input{Version: "banana"}); err == nil {
		t.Fatal("bad version accepted")
	}
}

func TestRefuseUpgrade(t *testing.T) {
	c := &v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{Name: "c", Version: "1.36"}}
	if err := RefuseUpgrade(c, "1.37", false); err != nil {
		t.Fatalf("no insights: %v", err)
	}
	ts := metav1.NewTime(now)
	c.Status.Insights = &v1alpha1.InsightsStatus{Items: []v1alpha1.ClusterInsight{
		{ID: "1", Name: DeprecatedName("1.37"), Category: eks.InsightCategoryUpgradeReadiness, KubernetesVersion: "1.37", Status: eks.InsightStatusError, LastRefreshTime: &ts},
		{ID: "2", Name: DeprecatedName("1.38"), Category: eks.InsightCategoryUpgradeReadiness, KubernetesVersion: "1.38", Status: eks.InsightStatusError},
	}}
	err := RefuseUpgrade(c, "1.37", false)
	if !errors.Is(err, errdefs.ErrInvalidRequest) || !strings.Contains(err.Error(), DeprecatedName("1.37")) || strings.Contains(err.Error(), "1.38") {
		t.Fatalf("refusal: %v", err)
	}
	if err := RefuseUpgrade(c, "1.37", true); err != nil {
		t.Fatalf("forced: %v", err)
	}
	c.Status.Insights.Items[0].Status = eks.InsightStatusWarning
	if err := RefuseUpgrade(c, "1.37", false); err != nil {
		t.Fatalf("warning refused: %v", err)
	}
}

func TestReplacementOf(t *testing.T) {
	for _, tc := range []struct {
		api  API
		want string
	}{
		{API{Group: "networking.k8s.io", Version: "v1beta1", Resource: "ingresses"}, "/apis/networking.k8s.io/v1/ingresses"},
		{API{Group: "networking.k8s.io", Version: "v1beta1", Resource: "ingressclasses"}, "/apis/networking.k8s.io/v1/ingressclasses"},
		{API{Group: "networking.k8s.io", Version: "v1beta1", Resource: "servicecidrs"}, ""}, // no replacement tag upstream
		{API{Group: "example.io", Version: "v1", Resource: "widgets"}, ""},
	} {
		if got := ReplacementOf(tc.api); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.api.Path(), got, tc.want)
		}
	}
}

// The notice of the automatic upgrade: PASSING until 60 days before the
// end of the support the policy keeps the cluster on, then WARNING; never
// ERROR, which would block the upgrade it asks for.
func TestEndOfSupportNotice(t *testing.T) {
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct {
		policy, on, status, says string
	}{
		{"", "2026-12-03", eks.InsightStatusPassing, "in EXTENDED support until 2027-10-27"},
		{"STANDARD", "2026-08-01", eks.InsightStatusPassing, "until 2026-10-27"},
		{"STANDARD", "2026-09-15", eks.InsightStatusWarning, "will then be upgraded to 1.35"},
		{"STANDARD", "2026-12-03", eks.InsightStatusWarning, "is being upgraded to 1.35"},
	} {
		ins := endOfSupport("1.34", "1.35", tc.policy, day(tc.on))
		if ins.Status != tc.status || !strings.Contains(ins.Reason, tc.says) || ins.KubernetesVersion != "1.35" {
			t.Errorf("%q on %s: %s %q", tc.policy, tc.on, ins.Status, ins.Reason)
		}
	}
}
