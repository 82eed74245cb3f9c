package redact

import (
	"strings"
	"testing"
)

func TestText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"waiting for kube-apiserver-a", "waiting for kube-apiserver-a"},
		{"degraded: etcd-b: dial tcp 127.101.64.1:2379: connect: connection refused",
			"degraded: etcd-b: dial tcp <address>: connect: connection refused"},
		{"open /root/.cellplane/cells/cell-1/clusters/demo/pki/ca.key: permission denied",
			"open <path>: permission denied"},
		{"cell-1/acct-000000000000/demo/etcd-a (pid 4242): process exited: signal: killed",
			"cell-1/acct-000000000000/demo/etcd-a (pid <hidden>): process exited: signal: killed"},
		{`starting "/var/lib/x/etcd" failed, PID=77`, `starting "<path>" failed, pid <hidden>`},
		{"Get https://127.101.128.1:443/readyz: EOF", "Get https://<address>/readyz: EOF"},
		{"restore from set 3f2a-11: no backup of cluster never-existed", "restore from set 3f2a-11: no backup of cluster never-existed"},
		{"--data-dir=/tmp/x ok", "--data-dir=<path> ok"},
		{"ratio 1/2 kept", "ratio 1/2 kept"},
	} {
		if got := Text(tc.in); got != tc.want {
			t.Errorf("Text(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// TestTextLeavesNoDigitsOfAPID checks that no form a supervisor writes a PID in
// survives.
func TestTextLeavesNoDigitsOfAPID(t *testing.T) {
	for _, in := range []string{"pid 31337", "PID:31337", "(pid=31337)", "Pid 31337 exited"} {
		if got := Text(in); strings.Contains(got, "31337") {
			t.Errorf("Text(%q) = %q keeps the PID", in, got)
		}
	}
}
