package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/eks"
)

func TestClusterDeletionProtection(t *testing.T) {
	r := newRegion(t)
	r.must("cluster", "create", "guarded", "--deletion-protection")
	if !r.stored("guarded").Spec.DeletionProtection {
		t.Fatal("--deletion-protection not stored")
	}
	r.report("guarded", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive})
	if out, _ := r.must("cluster", "describe", "guarded"); !strings.Contains(out, "Deletion protection:") || !strings.Contains(out, "on") {
		t.Errorf("describe printed %q", out)
	}

	_, _, err := r.cli.run("cluster", "delete", "guarded")
	var apiErr *eks.APIError
	if !errors.As(err, &apiErr) || apiErr.Type != eks.InvalidRequestException || clikit.ExitCode(err) != 1 ||
		!strings.Contains(clikit.UserMessage(err), "turn it off first") {
		t.Fatalf("delete of a protected cluster = %v", err)
	}
	if r.stored("guarded").DeletionTimestamp != nil {
		t.Fatal("the refused delete deleted")
	}

	out, _ := r.must("cluster", "protect", "guarded", "--off")
	if !strings.Contains(out, "deletion protection of cluster guarded is off") || !strings.Contains(out, "Successful") {
		t.Errorf("protect --off printed %q", out)
	}
	if r.stored("guarded").Spec.DeletionProtection {
		t.Fatal("protect --off did not store it")
	}
	r.must("cluster", "delete", "guarded")
	if r.stored("guarded").DeletionTimestamp == nil {
		t.Fatal("delete after protect --off did not delete")
	}

	if _, _, err := r.cli.run("cluster", "protect"); clikit.ExitCode(err) != 2 {
		t.Errorf("protect without a name = %v, want a usage error", err)
	}
}
