package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestParseTags(t *testing.T) {
	for _, tc := range []struct {
		in    []string
		want  map[string]string
		usage bool
	}{
		{in: nil, want: nil},
		{in: []string{}, want: nil},
		{in: []string{"team=a"}, want: map[string]string{"team": "a"}},
		{in: []string{"team=a", "env=prod"}, want: map[string]string{"team": "a", "env": "prod"}},
		{in: []string{"empty="}, want: map[string]string{"empty": ""}},
		{in: []string{"url=a=b"}, want: map[string]string{"url": "a=b"}},
		{in: []string{"team=a", "team=b"}, want: map[string]string{"team": "b"}},
		{in: []string{"team"}, usage: true},
		{in: []string{"=a"}, usage: true},
		{in: []string{"team=a", "bad"}, usage: true},
	} {
		got, err := parseTags(tc.in)
		if tc.usage {
			if err == nil || clikit.ExitCode(err) != 2 {
				t.Errorf("parseTags(%q) = %v, %v; want a usage error", tc.in, got, err)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("parseTags(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestNameArg(t *testing.T) {
	root := &cobra.Command{Use: "cellplane"}
	cmd := &cobra.Command{Use: "describe"}
	root.AddCommand(cmd)
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"demo"}, true},
		{nil, false},
		{[]string{"a", "b"}, false},
	} {
		err := nameArg(cmd, tc.args)
		if (err == nil) != tc.ok {
			t.Errorf("nameArg(%q) = %v, want ok=%v", tc.args, err, tc.ok)
			continue
		}
		if err != nil && (clikit.ExitCode(err) != 2 || !strings.Contains(err.Error(), "cellplane describe") ||
			!strings.Contains(err.Error(), fmt.Sprintf("got %d", len(tc.args)))) {
			t.Errorf("nameArg(%q) = %q: want a usage error naming the command and the count", tc.args, err)
		}
	}
}

// cli runs the cellplane command line in-process on dataDir.
type cli struct {
	t       *testing.T
	dataDir string
}

func (c cli) run(args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	g := &globals{clikit.Globals{Stdout: &out, Stderr: &errOut}}
	root := newRoot(g)
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"--data-dir", c.dataDir}, args...))
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestNotRunning(t *testing.T) {
	dir := t.TempDir()
	c := cli{t, dir}
	for _, args := range [][]string{
		{"cluster", "list"},
		{"cluster", "describe", "demo"},
		{"cluster", "create", "demo"},
		{"cluster", "delete", "demo"},
		{"cluster", "kubeconfig", "demo"},
	} {
		_, _, err := c.run(args...)
		if !errors.Is(err, errdefs.ErrNotRunning) {
			t.Errorf("%q = %v, want errdefs.ErrNotRunning", args, err)
			continue
		}
		msg := clikit.UserMessage(err)
		if !strings.Contains(msg, "cellplane up") || !strings.Contains(msg, dir) {
			t.Errorf("%q says %q: want the data directory and a hint to run cellplane up", args, msg)
		}
		if clikit.ExitCode(err) != 1 {
			t.Errorf("%q exit code %d, want 1", args, clikit.ExitCode(err))
		}
	}
}

func TestUsageErrorsComeFirst(t *testing.T) {
	// Checked before connecting: a data directory with nothing running still
	// gets the usage error, and exit code 2.
	c := cli{t, t.TempDir()}
	for _, args := range [][]string{
		{"cluster", "describe"},
		{"cluster", "create", "a", "b"},
		{"cluster", "list", "--output", "yaml"},
		{"cluster", "create", "demo", "--tag", "novalue"},
		{"cluster", "delete", "demo", "-o", "xml"},
	} {
		_, _, err := c.run(args...)
		if err == nil || errors.Is(err, errdefs.ErrNotRunning) || clikit.ExitCode(err) != 2 {
			t.Errorf("%q = %v (exit %d), want a usage error", args, err, clikit.ExitCode(err))
		}
	}
}

func TestCobraUsageErrorsExitTwo(t *testing.T) {
	c := cli{t, t.TempDir()}
	for _, args := range [][]string{
		{"cluster", "list", "--bogus"},
		{"cluster", "list", "extra"},
		{"version", "extra"},
		{"bogus"},
	} {
		_, _, err := c.run(args...)
		if err == nil || clikit.ExitCode(err) != 2 {
			t.Errorf("%q = %v (exit %d), want exit code 2", args, err, clikit.ExitCode(err))
		}
	}
}

func TestComponentsList(t *testing.T) {
	out, _, err := cli{t, t.TempDir()}.run("components", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1.36\tv1.36.3\tetcd v3.6.16\n", "1.37\tv1.37.2\tetcd v3.6.16\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("components list = %q, want a line %q", out, want)
		}
	}
}

func TestVersion(t *testing.T) {
	out, _, err := cli{t, t.TempDir()}.run("version")
	if err != nil || !strings.HasPrefix(out, "cellplane ") {
		t.Fatalf("version = %q, %v", out, err)
	}
}

func TestDefaultDataDir(t *testing.T) {
	t.Setenv("CELLPLANE_DATA_DIR", "/srv/cellplane")
	if got := defaultDataDir(); got != "/srv/cellplane" {
		t.Fatalf("defaultDataDir() = %q with CELLPLANE_DATA_DIR set", got)
	}
	t.Setenv("CELLPLANE_DATA_DIR", "")
	if got := defaultDataDir(); !strings.HasSuffix(got, ".cellplane") {
		t.Fatalf("defaultDataDir() = %q, want ~/.cellplane", got)
	}
}
