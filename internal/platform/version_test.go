package platform

import (
	"context"
	"errors"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

func TestApplyReplacesInPlaceAndAppends(t *testing.T) {
	o := Overlay{Args: map[string][]string{"kube-apiserver": {"--profiling=true", "--audit-log-maxage=7"}}}
	base := []string{"--bind-address=1.2.3.4", "--profiling=false", "--audit-log-maxbackup=3"}
	got := o.Apply("kube-apiserver", base)
	want := []string{"--bind-address=1.2.3.4", "--profiling=true", "--audit-log-maxbackup=3", "--audit-log-maxage=7"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if base[1] != "--profiling=false" {
		t.Error("Apply changed its input")
	}
	if got := o.Apply("kube-scheduler", base); !slices.Equal(got, base) {
		t.Errorf("another kind got %v", got)
	}
}

func TestBaselineChangesNothing(t *testing.T) {
	v, err := Catalog{}.Resolve(context.Background(), "1.37", "")
	if err != nil || v.Name != Baseline || len(v.Args) != 0 || v.AuditPolicy != "" {
		t.Fatalf("default of 1.37: %+v, %v", v, err)
	}
}

func TestResolveRefusals(t *testing.T) {
	ctx := context.Background()
	if _, err := (Catalog{}).Resolve(ctx, "1.34", "cellplane.2"); !errors.Is(err, ErrWrongMinor) {
		t.Errorf("cellplane.2 on 1.34: %v", err)
	}
	if _, err := (Catalog{}).Resolve(ctx, "1.37", "cellplane.99"); !errors.Is(err, ErrUnknown) {
		t.Errorf("cellplane.99: %v", err)
	}
	if v, err := (Catalog{}).Resolve(ctx, "1.37", "cellplane.2"); err != nil || len(v.Args["kube-apiserver"]) == 0 {
		t.Errorf("cellplane.2 on 1.37: %+v, %v", v, err)
	}
}

func TestValidate(t *testing.T) {
	minors := []string{"1.36", "1.37"}
	good := func() *v1alpha1.PlatformVersion {
		return &v1alpha1.PlatformVersion{ObjectMeta: metav1.ObjectMeta{Name: "cellplane.7"}, Spec: v1alpha1.PlatformVersionSpec{
			Minors: []string{"1.37"}, Args: []v1alpha1.ComponentArgs{{Component: "kube-apiserver", Args: []string{"--max-requests-inflight=800"}}}}}
	}
	if err := Validate(good(), minors); err != nil {
		t.Fatalf("good version: %v", err)
	}
	for name, mutate := range map[string]func(*v1alpha1.PlatformVersion){
		"bad name":          func(p *v1alpha1.PlatformVersion) { p.Name = "eks.7" },
		"built-in name":     func(p *v1alpha1.PlatformVersion) { p.Name = "cellplane.2" },
		"no minor":          func(p *v1alpha1.PlatformVersion) { p.Spec.Minors = nil },
		"minor not offered": func(p *v1alpha1.PlatformVersion) { p.Spec.Minors = []string{"1.20"} },
		"unknown component": func(p *v1alpha1.PlatformVersion) { p.Spec.Args[0].Component = "etcd" },
		"not a flag":        func(p *v1alpha1.PlatformVersion) { p.Spec.Args[0].Args = []string{"max-requests-inflight=1"} },
		"no args":           func(p *v1alpha1.PlatformVersion) { p.Spec.Args[0].Args = nil },
	} {
		pv := good()
		mutate(pv)
		if err := Validate(pv, minors); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
