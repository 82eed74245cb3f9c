package clikit

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestCheckOutput(t *testing.T) {
	for _, tc := range []struct {
		output string
		ok     bool
	}{
		{"table", true}, {"json", true}, {"yaml", false}, {"", false}, {"JSON", false},
	} {
		err := (&Globals{Output: tc.output}).CheckOutput()
		if (err == nil) != tc.ok || (err != nil && ExitCode(err) != 2) {
			t.Errorf("CheckOutput(%q) = %v, want ok=%v (usage error otherwise)", tc.output, err, tc.ok)
		}
	}
}

func TestUserMessage(t *testing.T) {
	apiErr := &eks.APIError{Type: eks.ResourceNotFoundException, Message: "No cluster found for name: demo.", Status: 404}
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	for _, tc := range []struct {
		name string
		err  error
		want string // exact, or a substring when prefixed by "~"
	}{
		{"API error", apiErr, "No cluster found for name: demo."},
		{"wrapped API error", fmt.Errorf("describing: %w", apiErr), "No cluster found for name: demo."},
		{"refused", fmt.Errorf("Get \"https://127.100.0.1:8443/clusters\": %w", dial), "~cellplane up"},
		{"read error is not a hint", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("reset")}, "read tcp: reset"},
		{"plain", errors.New("writing kubeconfig: disk full"), "writing kubeconfig: disk full"},
		{"usage", Usagef("--output must be table or json"), "--output must be table or json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := UserMessage(tc.err)
			if sub, ok := strings.CutPrefix(tc.want, "~"); ok {
				if !strings.Contains(got, sub) {
					t.Fatalf("UserMessage = %q, want it to mention %q", got, sub)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("UserMessage = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"usage", Usagef("bad"), 2},
		{"wrapped usage", fmt.Errorf("create: %w", Usagef("bad")), 2},
		{"API error", &eks.APIError{Type: eks.InvalidParameterException, Message: "bad", Status: 400}, 1},
		{"not found", fmt.Errorf("x: %w", errdefs.ErrNotFound), 1},
		{"plain", errors.New("boom"), 1},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("%s: ExitCode = %d, want %d", tc.name, got, tc.want)
		}
	}
}
