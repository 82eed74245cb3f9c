package cell

import (
	"errors"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

func TestExitEvent(t *testing.T) {
	for _, tc := range []struct {
		id       string
		ok       bool
		ns, name string
	}{
		{"acct-000000000000/demo/etcd-a", true, "acct-000000000000", "demo"},
		{"acct-1/prod-1a2b3c4d/kube-apiserver-b", true, "acct-1", "prod-1a2b3c4d"},
		{"cell-1/lb", false, "", ""},
		{"region/etcd", false, "", ""},
		{"cell-1/kube-apiserver", false, "", ""},
		{"a/b/c/d", false, "", ""},
		{"", false, "", ""},
	} {
		ev, ok := exitEvent(tc.id)
		if ok != tc.ok {
			t.Errorf("exitEvent(%q) ok = %v, want %v", tc.id, ok, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		if key := client.ObjectKeyFromObject(ev.Object); key.Namespace != tc.ns || key.Name != tc.name {
			t.Errorf("exitEvent(%q) = %v, want %s/%s", tc.id, key, tc.ns, tc.name)
		}
	}
}

func TestOnExit(t *testing.T) {
	p := &proc{exits: make(chan event.GenericEvent, 1)}
	p.onExit("cell-1/lb", errors.New("exit status 1"))
	if len(p.exits) != 0 {
		t.Fatal("a store or load-balancer exit was sent to the cluster controller")
	}
	p.onExit("acct-1/demo/etcd-a", errors.New("exit status 1"))
	// The channel is full: the next exit must not block the runtime's callback.
	p.onExit("acct-1/other/etcd-b", errors.New("exit status 1"))
	ev := <-p.exits
	if ev.Object.GetName() != "demo" {
		t.Fatalf("event for %s, want demo", ev.Object.GetName())
	}
}
