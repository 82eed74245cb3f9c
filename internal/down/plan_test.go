package down

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cellplane/cellplane/internal/runtime/process"
)

func rec(dataDir, rel string) process.Recorded {
	p := filepath.Join(dataDir, filepath.FromSlash(rel))
	return process.Recorded{StateDir: filepath.Dir(p), Name: filepath.Base(p[:len(p)-len(".pid")])}
}

func TestClassify(t *testing.T) {
	const d = "/data"
	for _, tc := range []struct {
		pidFile string
		kind    Kind
		cluster string
	}{
		{"cells/cell-1/controllers.pid", KindCell, ""},
		{"cells/cell-2/lb/lb.pid", KindLB, ""},
		{"region/store/logs/etcd.pid", KindEtcd, ""},
		{"region/store/logs/kube-apiserver.pid", KindAPIServer, ""},
		{"cells/cell-1/store/logs/etcd.pid", KindEtcd, ""},
		{"cells/cell-1/store/logs/kube-apiserver.pid", KindAPIServer, ""},
		{"cells/cell-1/clusters/acct-1/demo/logs/etcd-a.pid", KindEtcd, "cell-1/acct-1/demo"},
		{"cells/cell-1/clusters/acct-1/demo/logs/kube-apiserver-b.pid", KindAPIServer, "cell-1/acct-1/demo"},
		{"cells/cell-3/clusters/acct-2/x/logs/kube-controller-manager-a.pid", KindController, "cell-3/acct-2/x"},
		{"cells/cell-3/clusters/acct-2/x/logs/kube-scheduler-b.pid", KindController, "cell-3/acct-2/x"},
		{"cells/cell-3/clusters/acct-2/x/logs/konnectivity-a.pid", KindOther, "cell-3/acct-2/x"},
		// Only a cell's own directory holds the cell; names that merely start
		// like a component are not that component.
		{"cells/cell-1/lb/controllers.pid", KindOther, ""},
		{"region/store/logs/etcdbackup.pid", KindOther, ""},
		{"elsewhere/lb.pid", KindLB, ""},
	} {
		p := classify(d, rec(d, tc.pidFile))
		if p.Kind != tc.kind || p.Cluster != tc.cluster || p.Tenant() != (tc.cluster != "") {
			t.Errorf("%s: kind %q cluster %q, want %q %q", tc.pidFile, p.Kind, p.Cluster, tc.kind, tc.cluster)
		}
	}
}

// TestTierOrder pins the stop order: whatever supervises first, then what depends
// on the API servers, then the API servers, then the etcd they write to.
func TestTierOrder(t *testing.T) {
	order := []Kind{KindCell, KindLB, KindAPIServer, KindEtcd}
	for i := 1; i < len(order); i++ {
		if tierOf(order[i-1]) >= tierOf(order[i]) {
			t.Errorf("%s stops in tier %d, not before %s (tier %d)", order[i-1], tierOf(order[i-1]), order[i], tierOf(order[i]))
		}
	}
	for _, k := range []Kind{KindController, KindOther} {
		if tierOf(k) != tierOf(KindLB) {
			t.Errorf("%s stops in tier %d, want the load balancers' %d", k, tierOf(k), tierOf(KindLB))
		}
	}
	seen := map[Kind]bool{}
	for _, tier := range tiers {
		for _, k := range tier {
			if seen[k] {
				t.Errorf("%s is in two tiers", k)
			}
			seen[k] = true
		}
	}
	for k := range seen {
		if !slices.ContainsFunc(nouns, func(n noun) bool { return n.kind == k }) {
			t.Errorf("no noun describes %s", k)
		}
	}
}

func TestPlanSelection(t *testing.T) {
	const d = "/data"
	var p Plan
	for _, f := range []string{
		"cells/cell-1/controllers.pid",
		"cells/cell-1/lb/lb.pid",
		"cells/cell-1/clusters/a/y/logs/etcd-a.pid",
		"cells/cell-1/clusters/a/x/logs/etcd-a.pid",
		"cells/cell-1/clusters/a/x/logs/kube-apiserver-a.pid",
		"cells/cell-1/clusters/a/x/logs/kube-scheduler-a.pid",
		"region/store/logs/etcd.pid",
		"region/store/logs/kube-apiserver.pid",
	} {
		p.Processes = append(p.Processes, classify(d, rec(d, f)))
	}
	if got := p.Clusters(); !slices.Equal(got, []string{"cell-1/a/x", "cell-1/a/y"}) {
		t.Errorf("Clusters = %v", got)
	}
	if n := len(p.Tenant()); n != 4 {
		t.Errorf("Tenant lists %d processes, want 4", n)
	}
	var order []string
	for i := range tiers {
		for _, x := range inTier(p.Processes, i) {
			order = append(order, x.Name)
		}
	}
	want := []string{"controllers", "lb", "kube-scheduler-a", "kube-apiserver-a", "kube-apiserver", "etcd-a", "etcd-a", "etcd"}
	if !slices.Equal(order, want) {
		t.Errorf("stop order %v, want %v", order, want)
	}
	wantText := "1 cell process, 1 load balancer, 1 tenant controller, 1 tenant API server, 1 store API server, 2 tenant etcd members, 1 store etcd member"
	if got := p.Describe(); got != wantText {
		t.Errorf("Describe = %q, want %q", got, wantText)
	}
	p.Up = &Up{PID: 42}
	if got := p.Describe(); got != "cellplane up (pid 42), "+wantText {
		t.Errorf("Describe with up = %q", got)
	}
	if got := (&Plan{}).Describe(); got != "nothing" || !(&Plan{}).Empty() {
		t.Errorf("empty plan: Describe %q, Empty %v", got, (&Plan{}).Empty())
	}
}

func TestConfirm(t *testing.T) {
	boom := errors.New("no terminal")
	for _, tc := range []struct {
		name string
		ask  func(*Plan) (bool, error)
		ok   bool
	}{
		{"nil refuses", nil, false},
		{"no", func(*Plan) (bool, error) { return false, nil }, false},
		{"error", func(*Plan) (bool, error) { return true, boom }, false},
		{"yes", func(*Plan) (bool, error) { return true, nil }, true},
	} {
		err := confirm(&Plan{}, tc.ask)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrNotConfirmed)) {
			t.Errorf("%s: confirm = %v", tc.name, err)
		}
		if tc.name == "error" && !errors.Is(err, boom) {
			t.Errorf("%s: confirm = %v, want the asker's error wrapped", tc.name, err)
		}
	}
}
