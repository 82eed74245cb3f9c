package zonenet

import (
	"errors"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name  string
		fault Fault
		valid bool
	}{
		{"none", Fault{}, true},
		{"cut", Fault{Kind: KindCut}, true},
		{"blackhole", Fault{Kind: KindBlackhole}, true},
		{"latency only", Fault{Kind: KindDegrade, Latency: 200 * ms}, true},
		{"loss only", Fault{Kind: KindDegrade, LossPercent: 20}, true},
		{"latency and loss", Fault{Kind: KindDegrade, Latency: 5 * time.Second, LossPercent: 100}, true},
		{"unknown kind", Fault{Kind: "flood"}, false},
		{"none with latency", Fault{Latency: ms}, false},
		{"cut with loss", Fault{Kind: KindCut, LossPercent: 5}, false},
		{"blackhole with latency", Fault{Kind: KindBlackhole, Latency: ms}, false},
		{"degrade with nothing", Fault{Kind: KindDegrade}, false},
		{"negative latency", Fault{Kind: KindDegrade, Latency: -ms, LossPercent: 5}, false},
		{"latency too long", Fault{Kind: KindDegrade, Latency: 5*time.Second + ms}, false},
		{"negative loss", Fault{Kind: KindDegrade, Latency: ms, LossPercent: -1}, false},
		{"loss over 100", Fault{Kind: KindDegrade, LossPercent: 101}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fault.Validate()
			if tt.valid && err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if !tt.valid && !errors.Is(err, ErrInvalidFault) {
				t.Fatalf("Validate() = %v, want ErrInvalidFault", err)
			}
			if err != nil {
				t.Log(err)
			}
		})
	}
}

func TestFaultString(t *testing.T) {
	tests := []struct {
		fault Fault
		want  string
	}{
		{Fault{}, "none"},
		{Fault{Kind: KindCut}, "cut"},
		{Fault{Kind: KindBlackhole}, "blackhole"},
		{Fault{Kind: KindDegrade, Latency: 200 * time.Millisecond, LossPercent: 20}, "degrade: 200ms latency, 20% loss"},
		{Fault{Kind: KindDegrade, Latency: time.Second}, "degrade: 1s latency"},
		{Fault{Kind: KindDegrade, LossPercent: 5}, "degrade: 5% loss"},
	}
	for _, tt := range tests {
		if got := tt.fault.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestNames(t *testing.T) {
	n := New(Options{Cell: testCell(t)})
	if got, want := NamespaceName(testCell(t), "a"), "cellplane-250-a"; got != want {
		t.Errorf("NamespaceName = %q, want %q", got, want)
	}
	if got, want := n.Path("c"), "/run/netns/cellplane-250-c"; got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
	z := n.names(1, "b")
	if z.veth != "cpz250b" || z.tun != "cpd250b" || z.sourceIP.String() != "127.250.64.255" || z.prefix.String() != "127.250.64.0/19" {
		t.Errorf("names(b) = %s %s %s %s", z.veth, z.tun, z.sourceIP, z.prefix)
	}
	if err := n.SetFault("d", Fault{}); !errors.Is(err, ErrUnknownZone) {
		t.Errorf("SetFault(d) = %v, want ErrUnknownZone", err)
	}
	if err := n.SetFault("a", Fault{Kind: "flood"}); !errors.Is(err, ErrInvalidFault) {
		t.Errorf("SetFault(flood) = %v, want ErrInvalidFault", err)
	}
}
