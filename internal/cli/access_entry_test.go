package cli

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestAccessEntryCommands(t *testing.T) {
	r := newRegion(t)
	r.must("cluster", "create", "demo", "--authentication-mode", "API")
	out, _ := r.must("cluster", "describe", "demo", "--output", "json")
	if !strings.Contains(out, `"authenticationMode": "API"`) {
		t.Fatalf("describe shows no API mode:\n%s", out)
	}
	alice := account.UserARN(r.account, "alice")
	admin := account.AdminUserARN(r.account)

	out, _ = r.must("access-entry", "create", "demo", alice, "--group", "devs", "--tag", "team=a")
	if !strings.Contains(out, alice) || !strings.Contains(out, "groups=devs") {
		t.Fatalf("create printed %q", out)
	}
	out, _ = r.must("access-entry", "associate", "demo", alice, "--policy", "AmazonEKSViewPolicy", "--namespace", "team-a")
	if !strings.Contains(out, "AmazonEKSViewPolicy") || !strings.Contains(out, "namespace(team-a)") {
		t.Fatalf("associate printed %q", out)
	}
	out, _ = r.must("access-entry", "list", "demo")
	if got := strings.Fields(out); len(got) != 2 || got[0] != admin || got[1] != alice {
		t.Fatalf("list printed %q", out)
	}
	out, _ = r.must("access-entry", "list", "demo", "--policy", "AmazonEKSViewPolicy", "--output", "json")
	var listed struct{ AccessEntries []string }
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed.AccessEntries) != 1 || listed.AccessEntries[0] != alice {
		t.Fatalf("list --policy printed %q (%v)", out, err)
	}
	out, _ = r.must("access-entry", "describe", "demo", alice)
	if !strings.Contains(out, "namespace(team-a)") {
		t.Fatalf("describe printed %q", out)
	}
	r.must("access-entry", "disassociate", "demo", alice, "--policy", "AmazonEKSViewPolicy")
	out, _ = r.must("access-entry", "policies")
	if strings.Count(out, "arn:aws:eks::aws:cluster-access-policy/") != 4 {
		t.Fatalf("policies printed %q", out)
	}
	r.must("access-entry", "delete", "demo", alice)
	_, _, err := r.cli.run("access-entry", "describe", "demo", alice)
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("describe of a deleted entry: %v", err)
	}
	if _, _, err := r.cli.run("access-entry", "create", "demo"); err == nil {
		t.Fatal("create without a principal succeeded")
	}
}
