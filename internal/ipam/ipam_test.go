package ipam

import (
	"errors"
	"testing"
)

func TestParseBlock(t *testing.T) {
	for _, tc := range []struct {
		in    string
		cells int
		ok    bool
	}{
		{"127.100", 1, true}, {"127.253", 1, true}, {"127.254", 1, false}, {"127.0", 1, false},
		{"10.1", 1, false}, {"127.x", 1, false}, {"127.250", 5, false},
	} {
		_, err := ParseBlock(tc.in, tc.cells)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidBlock)) {
			t.Errorf("ParseBlock(%q,%d) = %v, want ok=%v", tc.in, tc.cells, err, tc.ok)
		}
	}
}

func TestAddressesAreDistinct(t *testing.T) {
	b, _ := ParseBlock("127.100", 2)
	seen := map[string]string{b.RegionIP().String(): "region"}
	for k := 1; k <= 2; k++ {
		c := b.Cell(k)
		add := func(what, ip string) {
			if prev, dup := seen[ip]; dup {
				t.Fatalf("%s and %s share %s", what, prev, ip)
			}
			seen[ip] = what
		}
		add("store", c.StoreIP().String())
		for slot := 0; slot < MaxSlots; slot += 7 {
			add("endpoint", c.EndpointIP(slot).String())
			for z := range Zones {
				for k := 0; k < MembersPerZone; k++ {
					add("member", c.MemberIP(z, slot, k).String())
				}
			}
		}
	}
	if got := b.Cell(1).MemberIP(1, 0, 1).String(); got != "127.101.64.2" {
		t.Fatalf("zone b slot 0 = %s", got)
	}
}

func TestZonePrefixHoldsItsMembers(t *testing.T) {
	c := mustBlock(t).Cell(1)
	for zone := range Zones {
		p := c.ZonePrefix(zone)
		for _, slot := range []int{0, 1, MaxSlots - 1} {
			for kind := range MembersPerZone {
				ip := c.MemberIP(zone, slot, kind)
				if !p.Contains(ip) || !c.Prefix().Contains(ip) {
					t.Errorf("zone %d slot %d kind %d: %s outside %s", zone, slot, kind, ip, p)
				}
				for other := range Zones {
					if other != zone && c.ZonePrefix(other).Contains(ip) {
						t.Errorf("%s is in zone %d's prefix too", ip, other)
					}
				}
			}
		}
	}
	if c.Prefix().Contains(mustBlock(t).Cell(2).StoreIP()) {
		t.Error("cell 1's prefix holds cell 2's store")
	}
}

func mustBlock(t *testing.T) Block {
	t.Helper()
	b, err := ParseBlock("127.60", 3)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
