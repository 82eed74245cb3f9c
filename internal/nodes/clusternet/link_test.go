package clusternet

import (
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"testing"
)

func TestLinkOfIsValidAndSerialises(t *testing.T) {
	l := LinkOf("c-1234.cell-a")
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if l.Namespace != "cellplane-net-c-1234.cell-a" || l.Gateway.String() != "10.249.0.1" || l.Network.String() != "10.249.0.0/24" || l.PodNetwork.String() != "10.244.0.0/16" {
		t.Errorf("LinkOf = %+v", l)
	}
	// The API servers' addresses, one per zone, are in the network and
	// apart from its gateway.
	for _, a := range ServiceAddresses() {
		if !l.Network.Contains(a) || a == l.Gateway {
			t.Errorf("service address %s: want it in %s, apart from %s", a, l.Network, l.Gateway)
		}
	}
	data, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	var back Link
	if err := json.Unmarshal(data, &back); err != nil || back != l {
		t.Errorf("round trip through %s = %+v, %v; want %+v", data, back, err, l)
	}
}

func TestLinkValidate(t *testing.T) {
	for name, mutate := range map[string]func(*Link){
		"namespace not ours":     func(l *Link) { l.Namespace = "cellplane-node-x" },
		"namespace with a slash": func(l *Link) { l.Namespace = "cellplane-net-a/b" },
		"loopback gateway":       func(l *Link) { l.Gateway = netip.MustParseAddr("127.0.0.9") },
		"link-local gateway":     func(l *Link) { l.Gateway = netip.MustParseAddr("169.254.0.1") },
		"gateway in pods":        func(l *Link) { l.Gateway = netip.MustParseAddr("10.244.0.1") },
		"no pod network":         func(l *Link) { l.PodNetwork = netip.Prefix{} },
		"nodes overlap pods":     func(l *Link) { l.NodeNetwork = netip.MustParsePrefix("10.0.0.0/8") },
		"network overlaps pods":  func(l *Link) { l.Network = netip.MustParsePrefix("10.0.0.0/8") },
		"gateway off network":    func(l *Link) { l.Network = netip.MustParsePrefix("10.248.0.0/24") },
	} {
		t.Run(name, func(t *testing.T) {
			l := LinkOf("c")
			mutate(&l)
			if err := l.Validate(); !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate(%+v) = %v, want ErrInvalid", l, err)
			}
		})
	}
}

func TestValidNode(t *testing.T) {
	l := LinkOf("c")
	good := Node{Name: "n1", Address: netip.MustParseAddr("10.250.1.3"), PodCIDR: netip.MustParsePrefix("10.244.3.0/24")}
	if err := validNode(l, good); err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]Node{
		"no name":             {Address: good.Address, PodCIDR: good.PodCIDR},
		"address is gateway":  {Name: "n", Address: l.Gateway, PodCIDR: good.PodCIDR},
		"address in network":  {Name: "n", Address: netip.MustParseAddr("10.249.0.11"), PodCIDR: good.PodCIDR},
		"address in pods":     {Name: "n", Address: netip.MustParseAddr("10.244.9.9"), PodCIDR: good.PodCIDR},
		"pods outside":        {Name: "n", Address: good.Address, PodCIDR: netip.MustParsePrefix("10.245.3.0/24")},
		"pods wider than net": {Name: "n", Address: good.Address, PodCIDR: netip.MustParsePrefix("10.0.0.0/8")},
	} {
		if err := validNode(l, n); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: validNode(%+v) = %v, want ErrInvalid", name, n, err)
		}
	}
}

// The node sends the gateway, the other pods and the other nodes into the
// cluster network, from its own address; the cluster network sends the
// node's address and pods to it, nothing else.
func TestRoutePlans(t *testing.T) {
	l := LinkOf("c")
	n := Node{Name: "n1", Address: netip.MustParseAddr("10.250.1.3"), PodCIDR: netip.MustParsePrefix("10.244.3.0/24")}
	gw, src := l.Gateway, n.Address
	wantNode := []route{
		{Dst: netip.MustParsePrefix("10.249.0.0/24"), Src: src},
		{Dst: netip.MustParsePrefix("10.244.0.0/16"), Via: gw, Src: src},
		{Dst: netip.MustParsePrefix("10.250.0.0/16"), Via: gw, Src: src},
	}
	if got := nodeRoutes(l, n); !slices.Equal(got, wantNode) {
		t.Errorf("nodeRoutes = %+v, want %+v", got, wantNode)
	}
	l.NodeNetwork = netip.Prefix{}
	if got := nodeRoutes(l, n); !slices.Equal(got, wantNode[:2]) {
		t.Errorf("nodeRoutes without a node network = %+v, want %+v", got, wantNode[:2])
	}
	wantCluster := []route{
		{Dst: netip.MustParsePrefix("10.250.1.3/32")},
		{Dst: netip.MustParsePrefix("10.244.3.0/24"), Via: n.Address},
	}
	if got := clusterRoutes(n); !slices.Equal(got, wantCluster) {
		t.Errorf("clusterRoutes = %+v, want %+v", got, wantCluster)
	}
}

func TestClusterLinkName(t *testing.T) {
	a, b := clusterLinkName("kubelet-1"), clusterLinkName("kubelet-2")
	if len(a) > 15 || a == b || a != clusterLinkName("kubelet-1") {
		t.Errorf("link names %q and %q: want distinct, stable and at most 15 characters", a, b)
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Name: "c", Upstream: "127.10.128.1:6443"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{
		{Name: "", Upstream: good.Upstream},
		{Name: "C", Upstream: good.Upstream},
		{Name: "c", Upstream: "10.0.0.1:6443"},
		{Name: "c", Upstream: "127.10.128.1"},
		{Name: "c", Upstream: "localhost:6443"},
	} {
		if err := c.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalid", c, err)
		}
	}
}
