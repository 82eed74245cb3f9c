package storetest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// deleteTimeout bounds the wait for an object deleted at cleanup to be gone.
const deleteTimeout = 10 * time.Second

// Namespace creates a namespace for t alone and returns its name, made from the
// test's name so a failing test's objects are easy to find. The namespace is
// not deleted: a store has no namespace controller to empty it, and the whole
// store goes when the binary ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", namePrefix(t.Name()), e.names.Add(1))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := e.Client(t).Create(context.Background(), ns); err != nil {
		t.Fatalf("storetest: creating namespace %s: %v", name, err)
	}
	return name
}

var notDNS = regexp.MustCompile(`[^a-z0-9]+`)

// namePrefix turns a test name into the start of a DNS label.
func namePrefix(test string) string {
	s := strings.Trim(notDNS.ReplaceAllString(strings.ToLower(test), "-"), "-")
	if len(s) > 40 {
		s = strings.TrimRight(s[:40], "-")
	}
	if s == "" {
		return "test"
	}
	return s
}

// Account returns an account ID no caller of this Env had before, so the
// clusters the regional API keeps for it, in namespace v1alpha1.Namespace(id),
// are the caller's alone. It creates nothing: the API creates the namespace
// with the account's first cluster, as it does in production. The IDs start
// with 9, so none is v1alpha1.DefaultAccount.
func (e *Env) Account() string { return fmt.Sprintf("9%011d", e.accounts.Add(1)) }

// Create creates objs in order and fails t at the first error. Cluster-scoped
// objects are deleted when t ends (see DeleteOnCleanup), except Namespaces: a
// store has no namespace controller, so a deleted namespace would never go.
// Namespaced objects stay, in namespaces that are the test's own.
func (e *Env) Create(t testing.TB, objs ...client.Object) {
	t.Helper()
	c := e.Client(t)
	for _, obj := range objs {
		if err := c.Create(context.Background(), obj); err != nil {
			t.Fatalf("storetest: creating %s: %v", describe(obj), err)
		}
		namespaced, err := c.IsObjectNamespaced(obj)
		if err != nil {
			t.Fatalf("storetest: scope of %s: %v", describe(obj), err)
		}
		if _, isNamespace := obj.(*corev1.Namespace); !namespaced && !isNamespace {
			e.DeleteOnCleanup(t, obj)
		}
	}
}

// CreateWithStatus creates obj and then writes the status it carried through
// the status subresource, as a controller would: the store drops the status of
// a create. obj ends as the store holds it.
func (e *Env) CreateWithStatus(t testing.TB, obj client.Object) {
	t.Helper()
	status, err := field(obj, "status")
	if err != nil {
		t.Fatalf("storetest: reading the status of %s: %v", describe(obj), err)
	}
	e.Create(t, obj)
	if status == nil {
		return
	}
	if err := setField(obj, "status", status); err != nil {
		t.Fatalf("storetest: setting the status of %s: %v", describe(obj), err)
	}
	if err := e.Client(t).Status().Update(context.Background(), obj); err != nil {
		t.Fatalf("storetest: writing the status of %s: %v", describe(obj), err)
	}
}

// field returns one top-level field of obj as JSON would have it.
func field(obj client.Object, name string) (any, error) {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	return u[name], nil
}

func setField(obj client.Object, name string, value any) error {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	u[name] = value
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u, obj)
}

// DeleteOnCleanup deletes obj when t ends, removing its finalizers first (no
// controller runs to remove them), and waits until it is gone, so the next
// test can create one of the same name. Use it for cluster-scoped objects that
// the code under test creates; Create registers the ones the test creates.
func (e *Env) DeleteOnCleanup(t testing.TB, obj client.Object) {
	t.Helper()
	c := e.Client(t)
	obj = obj.DeepCopyObject().(client.Object)
	t.Cleanup(func() {
		// t's context is cancelled by now.
		ctx, cancel := context.WithTimeout(context.Background(), deleteTimeout)
		defer cancel()
		if err := deleteNow(ctx, c, obj); err != nil {
			t.Errorf("storetest: cleaning up %s: %v", describe(obj), err)
		}
	})
}

// deleteNow deletes obj and waits until the store no longer has it.
func deleteNow(ctx context.Context, c client.Client, obj client.Object) error {
	drop := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
	if err := c.Patch(ctx, obj, drop); err != nil {
		return client.IgnoreNotFound(err)
	}
	if err := c.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
		return err
	}
	key := client.ObjectKeyFromObject(obj)
	return wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, key, obj)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

// describe names obj in messages.
func describe(obj client.Object) string {
	kind := fmt.Sprintf("%T", obj)
	if i := strings.LastIndex(kind, "."); i >= 0 {
		kind = kind[i+1:]
	}
	return kind + " " + client.ObjectKeyFromObject(obj).String()
}
