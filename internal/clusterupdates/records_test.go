package clusterupdates

import (
	"regexp"
	"testing"
)

// The pruning and bound are tested through the regional API on a real store
// (region/api TestUpdateRecordsAreBounded); here only the IDs.
func TestNewUUID(t *testing.T) {
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := NewUUID()
		if !v4.MatchString(id) || seen[id] {
			t.Fatalf("NewUUID() = %q: not a fresh version 4 UUID", id)
		}
		seen[id] = true
	}
	if a, b := shortID(), shortID(); len(a) != 8 || a == b {
		t.Fatalf("shortID() = %q, %q", a, b)
	}
}
