package addons

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/cellplane/cellplane/internal/addoncatalog"
)

func TestDropField(t *testing.T) {
	obj := func() map[string]any {
		return map[string]any{
			"data": map[string]any{"Corefile": "x", "other": "y"},
			"spec": map[string]any{"replicas": 2, "template": map[string]any{"spec": map[string]any{
				"containers": []any{map[string]any{"name": "coredns", "image": "a", "args": []any{"x"}}},
			}}},
		}
	}
	for _, tc := range []struct {
		path string
		ok   bool
		gone func(map[string]any) bool
	}{
		{".data.Corefile", true, func(o map[string]any) bool { _, ok := o["data"].(map[string]any)["Corefile"]; return !ok }},
		{".spec.replicas", true, func(o map[string]any) bool { _, ok := o["spec"].(map[string]any)["replicas"]; return !ok }},
		{`.spec.template.spec.containers[name="coredns"].image`, true, func(o map[string]any) bool {
			c := o["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
			_, ok := c["image"]
			return !ok && c["name"] == "coredns"
		}},
		{`.spec.template.spec.containers[name="coredns"]`, false, nil},
		{`.spec.template.spec.containers[name="other"].image`, false, nil},
		{".data.missing", false, nil},
	} {
		o := obj()
		got := dropField(o, tc.path)
		if got != tc.ok || (tc.ok && !tc.gone(o)) || (!tc.ok && !reflect.DeepEqual(o, obj())) {
			t.Errorf("%s: %v, object %v", tc.path, got, o)
		}
	}
}

func TestRenderAndDNSIP(t *testing.T) {
	if DNSServiceIP() != "10.100.0.10" {
		t.Fatalf("DNS IP %s", DNSServiceIP())
	}
}

// The add-ons as nodes here can run them: kube-proxy privileged on the
// node's network, every node, no conntrack table sizing and no
// /lib/modules; CoreDNS forwarding nothing off the machine.
func TestRenderForNodes(t *testing.T) {
	kp := addoncatalog.Version{Addon: addoncatalog.KubeProxy, Version: "v1.35.4-eksbuild.1", Upstream: "v1.35.4"}
	objs, err := Render(Input{Addon: addoncatalog.KubeProxy, Version: kp, Config: addoncatalog.Config{Mode: "iptables"}, APIServer: "https://127.1.2.3:443"})
	if err != nil {
		t.Fatal(err)
	}
	byKind := func(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
		for _, o := range objs {
			if o.GetKind() == kind && o.GetName() == name {
				return o
			}
		}
		t.Fatalf("no %s %s", kind, name)
		return nil
	}
	config, _, _ := unstructured.NestedString(byKind(objs, "ConfigMap", "kube-proxy-config").Object, "data", "config")
	for _, want := range []string{"mode: iptables\n", "clusterCIDR: " + addoncatalog.PodCIDR + "\n", "conntrack:\n  maxPerCore: 0\n  min: 0\n", "nodePortAddresses: [primary]\n"} {
		if !strings.Contains(config, want) {
			t.Errorf("kube-proxy config lacks %q:\n%s", want, config)
		}
	}
	kc, _, _ := unstructured.NestedString(byKind(objs, "ConfigMap", "kube-proxy").Object, "data", "kubeconfig")
	if !strings.Contains(kc, "server: https://127.1.2.3:443\n") {
		t.Errorf("kube-proxy kubeconfig:\n%s", kc)
	}
	ds := byKind(objs, "DaemonSet", "kube-proxy")
	spec, _, _ := unstructured.NestedMap(ds.Object, "spec", "template", "spec")
	if spec["hostNetwork"] != true || !reflect.DeepEqual(spec["tolerations"], []any{map[string]any{"operator": "Exists"}}) {
		t.Errorf("kube-proxy pod spec: hostNetwork %v, tolerations %v", spec["hostNetwork"], spec["tolerations"])
	}
	c := spec["containers"].([]any)[0].(map[string]any)
	if c["image"] != "cellplane.local/kube-proxy:v1.35.4" || c["securityContext"].(map[string]any)["privileged"] != true ||
		c["command"].([]any)[0] != "/usr/local/bin/kube-proxy" {
		t.Errorf("kube-proxy container %v", c)
	}
	if env := c["env"].([]any)[0].(map[string]any); env["name"] != "NODE_NAME" {
		t.Errorf("kube-proxy env %v", env)
	}
	for _, v := range spec["volumes"].([]any) {
		if hp, ok := v.(map[string]any)["hostPath"].(map[string]any); ok && hp["path"] == "/lib/modules" {
			t.Errorf("kube-proxy mounts /lib/modules: %v", v)
		}
	}

	dns := addoncatalog.Version{Addon: addoncatalog.CoreDNS, Version: "v1.15.0-eksbuild.1", Upstream: "v1.15.0"}
	objs, err = Render(Input{Addon: addoncatalog.CoreDNS, Version: dns, Config: addoncatalog.Config{ReplicaCount: 2}})
	if err != nil {
		t.Fatal(err)
	}
	corefile, _, _ := unstructured.NestedString(byKind(objs, "ConfigMap", "coredns").Object, "data", "Corefile")
	if strings.Contains(corefile, "forward") || !strings.Contains(corefile, "kubernetes cluster.local") {
		t.Errorf("Corefile:\n%s", corefile)
	}
}
