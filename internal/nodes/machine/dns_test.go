package machine

import (
	"strings"
	"testing"

	"github.com/cellplane/cellplane/internal/cell/addons"
)

// Pods ask the CoreDNS add-on's Service for names: the kubelet must give
// them the address the add-on's Service has.
func TestClusterDNSIsTheAddonsService(t *testing.T) {
	c := validConfig()
	want := `clusterDNS: ["` + addons.DNSServiceIP() + `"]`
	if kc := c.kubeletConfig(); !strings.Contains(kc, want) {
		t.Errorf("kubelet config lacks %s:\n%s", want, kc)
	}
}
