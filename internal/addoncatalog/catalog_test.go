package addoncatalog

import (
	"strings"
	"testing"

	"github.com/cellplane/cellplane/internal/clusterversions"
	"github.com/cellplane/cellplane/internal/components"
)

// TestVersionsPerMinor: every offered minor has exactly one default of each
// add-on; kube-proxy follows the cluster's release; other minors have none.
func TestVersionsPerMinor(t *testing.T) {
	for _, r := range clusterversions.Offered() {
		for _, a := range Names() {
			vs := Versions(a, r.Minor)
			defaults := 0
			for _, v := range vs {
				if v.Default {
					defaults++
				}
				if !strings.HasPrefix(v.Image(), Registry+"/"+a+":") {
					t.Errorf("%s image %s", a, v.Image())
				}
			}
			if defaults != 1 {
				t.Errorf("%s on %s: %d defaults", a, r.Minor, defaults)
			}
		}
		if v, ok := Default(KubeProxy, r.Minor); !ok || v.Upstream != r.Version || v.Version != r.Version+"-eksbuild.1" {
			t.Errorf("kube-proxy on %s: %+v", r.Minor, v)
		}
	}
	if v, ok := Default(CoreDNS, components.Default().Minor); !ok || v.Image() != "cellplane.local/coredns:"+components.CoreDNSVersion {
		t.Errorf("coredns default %+v", v)
	}
	if len(Versions(KubeProxy, "1.20")) != 0 || len(Versions("vpc-cni", components.Default().Minor)) != 0 {
		t.Error("versions for an unknown minor or add-on")
	}
	if _, ok := Lookup(KubeProxy, components.Default().Minor, "v1.20.0-eksbuild.1"); ok {
		t.Error("an unoffered version was found")
	}
}

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		addon, values string
		ok            bool
		want          Config
	}{
		{CoreDNS, "", true, Config{ReplicaCount: 2}},
		{CoreDNS, `{"replicaCount":3}`, true, Config{ReplicaCount: 3}},
		{CoreDNS, `{"replicaCount":0}`, false, Config{}},
		{CoreDNS, `{"replicaCount":"3"}`, false, Config{}},
		{CoreDNS, `{"replicas":3}`, false, Config{}},
		{CoreDNS, `{"corefile":""}`, false, Config{}},
		{CoreDNS, `[1]`, false, Config{}},
		{CoreDNS, `{"mode":"iptables"}`, false, Config{}},
		{KubeProxy, "", true, Config{Mode: "iptables"}},
		{KubeProxy, `{"mode":"nftables"}`, true, Config{Mode: "nftables"}},
		{KubeProxy, `{"mode":"ipvs"}`, false, Config{}},
	} {
		got, err := ParseConfig(tc.addon, tc.values)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("%s %s: %+v %v", tc.addon, tc.values, got, err)
		}
	}
}
