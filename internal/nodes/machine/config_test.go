package machine

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/internal/nodes/clusternet"
)

func validConfig() Config {
	return Config{
		Name: "ng-a-1", Dir: "/tmp/cpn-x",
		Address: netip.MustParseAddr("10.250.0.2"), PodCIDR: netip.MustParsePrefix("10.251.0.0/24"),
		CellPrefix: netip.MustParsePrefix("127.141.0.0/16"), HostAddress: netip.MustParseAddr("127.141.0.1"),
		CellSource:          netip.MustParseAddr("127.141.240.2"),
		BootstrapKubeconfig: []byte("kubeconfig"), ClientCA: []byte("CA"), Kubelet: "/bin/kubelet", SandboxImage: "cellplane.local/pause:1",
	}
}

func TestValidate(t *testing.T) {
	if err := (&Config{}).Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("empty config: %v", err)
	}
	good := validConfig()
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	l := clusternet.LinkOf("c")
	good.Network, good.PodCIDR = &l, netip.MustParsePrefix("10.244.2.0/24")
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config on a cluster network: %v", err)
	}
	for name, edit := range map[string]func(*Config){
		"name not a label":         func(c *Config) { c.Name = "Node_1" },
		"relative directory":       func(c *Config) { c.Dir = "cpn" },
		"loopback node address":    func(c *Config) { c.Address = netip.MustParseAddr("127.0.0.2") },
		"pod CIDR holds the node":  func(c *Config) { c.PodCIDR = netip.MustParsePrefix("10.250.0.0/24") },
		"pod CIDR too small":       func(c *Config) { c.PodCIDR = netip.MustParsePrefix("10.251.0.0/30") },
		"cell prefix not loopback": func(c *Config) { c.CellPrefix = netip.MustParsePrefix("10.0.0.0/16") },
		"host outside the cell":    func(c *Config) { c.HostAddress = netip.MustParseAddr("127.9.0.1") },
		"source outside the cell":  func(c *Config) { c.CellSource = netip.MustParseAddr("127.9.240.2") },
		"source is the host":       func(c *Config) { c.CellSource = c.HostAddress },
		"no bootstrap kubeconfig":  func(c *Config) { c.BootstrapKubeconfig = nil },
		"no sandbox image":         func(c *Config) { c.SandboxImage = "" },
		"no kubelet":               func(c *Config) { c.Kubelet = "" },
		"pods outside the cluster": func(c *Config) { l := clusternet.LinkOf("c"); c.Network = &l },
		"bad cluster link": func(c *Config) {
			l := clusternet.LinkOf("c")
			l.Namespace = "x"
			c.PodCIDR = netip.MustParsePrefix("10.244.2.0/24")
			c.Network = &l
		},
	} {
		c := validConfig()
		edit(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}

// The settings a kubelet 1.35 on cgroup v1 with containerd 1.6 cannot run
// without, and what keeps several machines on one host apart.
func TestKubeletConfig(t *testing.T) {
	c := validConfig()
	kc := c.kubeletConfig()
	for _, want := range []string{
		"failCgroupV1: false", "cgroupDriver: cgroupfs", "cgroupRoot: /cellplane-nodes/ng-a-1",
		"serverTLSBootstrap: true", "rotateCertificates: true", "readOnlyPort: 0",
		"anonymous:\n    enabled: false", "mode: Webhook", "address: 10.250.0.2",
	} {
		if !strings.Contains(kc, want) {
			t.Errorf("kubelet config lacks %q:\n%s", want, kc)
		}
	}
	cd := c.containerdConfig()
	for _, want := range []string{`sandbox_image = "cellplane.local/pause:1"`, "SystemdCgroup = false", "restrict_oom_score_adj = true", `"io.containerd.internal.v1.opt"`} {
		if !strings.Contains(cd, want) {
			t.Errorf("containerd config lacks %q:\n%s", want, cd)
		}
	}
	c.Taints = []string{"dedicated=gpu:NoSchedule", "spot=:PreferNoSchedule"}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid taints refused: %v", err)
	}
	args := strings.Join(c.kubeletArgs(), " ")
	for _, want := range []string{"--hostname-override=ng-a-1", "--node-ip=10.250.0.2", "--bootstrap-kubeconfig=", "--register-with-taints=dedicated=gpu:NoSchedule,spot=:PreferNoSchedule"} {
		if !strings.Contains(args, want) {
			t.Errorf("kubelet flags %q lack %q", args, want)
		}
	}
	for _, bad := range []string{"a=b:Sometimes", "a=b,c=d:NoSchedule", "a"} {
		c.Taints = []string{bad}
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("taint %q: %v, want ErrInvalidConfig", bad, err)
		}
	}
	if a, b := namesOf("ng-a-1"), namesOf("ng-a-2"); a.link == b.link || len(a.link) > 15 {
		t.Errorf("links %q and %q: want distinct names of at most 15 characters", a.link, b.link)
	}
}
