package addons

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// FieldManager is the field manager the add-ons' objects are applied as,
// EKS's.
const FieldManager = "eks"

// resources maps the kinds the add-ons render to their resources, so that
// applying needs no discovery.
var resources = map[string]schema.GroupVersionResource{
	"ServiceAccount":     {Version: "v1", Resource: "serviceaccounts"},
	"ConfigMap":          {Version: "v1", Resource: "configmaps"},
	"Service":            {Version: "v1", Resource: "services"},
	"ClusterRole":        {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"},
	"ClusterRoleBinding": {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"},
	"Deployment":         {Group: "apps", Version: "v1", Resource: "deployments"},
	"DaemonSet":          {Group: "apps", Version: "v1", Resource: "daemonsets"},
}

// Conflict is one object whose fields another field manager owns, which
// an apply with resolveConflicts NONE refused to take.
type Conflict struct {
	Object string   // kind/namespace/name
	Fields []string // the fields, as the API server names them
}

// resourceOf is the client of an object's resource.
func resourceOf(dyn dynamic.Interface, o *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvr, ok := resources[o.GetKind()]
	if !ok {
		return nil, fmt.Errorf("no resource for kind %s", o.GetKind())
	}
	if ns := o.GetNamespace(); ns != "" {
		return dyn.Resource(gvr).Namespace(ns), nil
	}
	return dyn.Resource(gvr), nil
}

// ID names an object in issues and logs: kind/namespace/name.
func ID(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + "/" + o.GetName()
	}
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}

// Apply server-side applies the objects as FieldManager. OVERWRITE forces
// the fields other managers own; PRESERVE leaves them to their managers by
// dropping them from what it applies; NONE applies nothing to an object
// with such a field and reports it. Every object is tried, so one conflict
// does not hold back the rest.
func Apply(ctx context.Context, dyn dynamic.Interface, objs []*unstructured.Unstructured, resolve string) ([]Conflict, error) {
	var conflicts []Conflict
	for _, o := range objs {
		c, err := applyOne(ctx, dyn, o.DeepCopy(), resolve)
		if err != nil {
			return conflicts, err
		}
		if c != nil {
			conflicts = append(conflicts, *c)
		}
	}
	return conflicts, nil
}

func applyOne(ctx context.Context, dyn dynamic.Interface, o *unstructured.Unstructured, resolve string) (*Conflict, error) {
	ri, err := resourceOf(dyn, o)
	if err != nil {
		return nil, err
	}
	force := resolve == v1alpha1.ResolveConflictsOverwrite
	// PRESERVE drops the conflicting fields and tries again; each round
	// drops at least one field, so the rounds end.
	for range 5 {
		data, err := json.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", ID(o), err)
		}
		_, err = ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
		if err == nil {
			return nil, nil
		}
		fields := conflictFields(err)
		if !apierrors.IsConflict(err) || len(fields) == 0 {
			return nil, fmt.Errorf("applying %s: %w", ID(o), err)
		}
		if resolve != v1alpha1.ResolveConflictsPreserve {
			return &Conflict{Object: ID(o), Fields: fields}, nil
		}
		for _, f := range fields {
			if !dropField(o.Object, f) {
				return &Conflict{Object: ID(o), Fields: fields}, nil
			}
		}
	}
	return nil, fmt.Errorf("applying %s: %w", ID(o), errors.New("conflicts kept coming"))
}

// conflictFields are the fields a server-side apply conflict names.
func conflictFields(err error) []string {
	var st apierrors.APIStatus
	if !errors.As(err, &st) || st.Status().Details == nil {
		return nil
	}
	var out []string
	for _, c := range st.Status().Details.Causes {
		if c.Type == metav1.CauseTypeFieldManagerConflict {
			out = append(out, c.Field)
		}
	}
	return out
}

// keyed matches a list element's key in a field path, [name="coredns"].
var keyed = regexp.MustCompile(`^\[name="([^"]*)"\]$`)

// dropField removes a field the API server names in a conflict
// (.spec.replicas, .data.Corefile,
// .spec.template.spec.containers[name="coredns"].image) from an object;
// false when the path has a form it does not follow.
func dropField(obj map[string]any, path string) bool {
	segs := splitPath(path)
	cur := obj
	for i, s := range segs {
		last := i == len(segs)-1
		if m := keyed.FindStringSubmatch(s); m != nil {
			return false // a whole list element: not dropped, so conflicts stay visible
		}
		if last {
			if _, ok := cur[s]; !ok {
				return false
			}
			delete(cur, s)
			return true
		}
		next := segs[i+1]
		if m := keyed.FindStringSubmatch(next); m != nil {
			list, _ := cur[s].([]any)
			item := findNamed(list, m[1])
			if item == nil {
				return false
			}
			if i+1 == len(segs)-1 {
				return false
			}
			rest := strings.Join(segs[i+2:], ".")
			return dropField(item, "."+rest)
		}
		child, ok := cur[s].(map[string]any)
		if !ok {
			return false
		}
		cur = child
	}
	return false
}

func findNamed(list []any, name string) map[string]any {
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && m["name"] == name {
			return m
		}
	}
	return nil
}

// splitPath splits a field path at its dots, keeping [..] keys (which may
// hold dots) as segments of their own.
func splitPath(path string) []string {
	var segs []string
	var cur strings.Builder
	depth := 0
	flush := func() {
		if cur.Len() > 0 {
			segs = append(segs, cur.String())
			cur.Reset()
		}
	}
	for _, r := range path {
		switch {
		case r == '[' && depth == 0:
			flush()
			depth++
			cur.WriteRune(r)
		case r == ']' && depth == 1:
			depth--
			cur.WriteRune(r)
			flush()
		case r == '.' && depth == 0:
			flush()
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return segs
}

// Remove deletes the objects, those already gone included.
func Remove(ctx context.Context, dyn dynamic.Interface, objs []*unstructured.Unstructured) error {
	bg := metav1.DeletePropagationBackground
	for _, o := range objs {
		ri, err := resourceOf(dyn, o)
		if err != nil {
			return err
		}
		if err := ri.Delete(ctx, o.GetName(), metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s: %w", ID(o), err)
		}
	}
	return nil
}
