package addons

import (
	"reflect"
	"testing"
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
