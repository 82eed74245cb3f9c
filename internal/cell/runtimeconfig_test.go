package cell

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestAPIServerRuntimeConfig(t *testing.T) {
	for _, bad := range []string{
		"networking.k8s.io/v1beta1=true",                  // no minor
		"1.36:networking.k8s.io/v1beta1",                  // no value
		"1.36:networking.k8s.io/v1beta1=yes",              // not a boolean
		"1.36:api/all=true",                               // not a group version
		"1.36:networking.k8s.io=true",                     // no version
		"1.36:networking.k8s.io/v1beta1/ipaddresses=true", // a resource
		"1.36:networking.k8s.io/v1beta1=true,",            // an empty entry
		"2.1:networking.k8s.io/v1beta1=true",              // not a 1.x minor
		"1.36:Networking.k8s.io/v1beta1=true",             // not a DNS name
	} {
		if err := (Tuning{APIServerRuntimeConfig: bad}).Validate(); !errors.Is(err, errdefs.ErrInvalidConfig) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	tu := Tuning{APIServerRuntimeConfig: "1.36:networking.k8s.io/v1beta1=true,1.36:storage.k8s.io/v1beta1=false,1.37:resource.k8s.io/v1alpha3=true"}
	if err := tu.Validate(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"1.36": "networking.k8s.io/v1beta1=true,storage.k8s.io/v1beta1=false", "1.37": "resource.k8s.io/v1alpha3=true"}
	if got := tu.runtimeConfigs(); !maps.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if !slices.Contains(tu.Args(), "--apiserver-runtime-config") {
		t.Fatalf("args %v do not carry the setting to the cells", tu.Args())
	}
	if (Tuning{}).runtimeConfigs() != nil || slices.Contains(DefaultTuning().Args(), "--apiserver-runtime-config") {
		t.Fatal("the default sets a runtime config")
	}
}
