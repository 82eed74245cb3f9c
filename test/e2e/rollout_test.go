package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/test/framework"
)

// badPlatformVersion passes registration (a well-formed flag) but no API
// server starts with it: kube-apiserver refuses flags it does not know.
const badPlatformVersion = `apiVersion: cellplane.io/v1alpha1
kind: PlatformVersion
metadata:
  name: cellplane.3
spec:
  minors: ["1.37"]
  description: a deliberately broken version for the rollout test
  args:
  - component: kube-apiserver
    args: ["--cellplane-no-such-flag=on"]
`

// TestPlatformRollout rolls platform versions over two cells of two real
// clusters each:
//   - bad input (unknown version, wrong minor, bad waves, a bad registration)
//     is refused and starts nothing;
//   - a bad version halts at its canary, whose API servers never come up: the
//     wave is rolled back, the canary serves again on cellplane.1 and no
//     other cluster's processes ever restarted;
//   - a good version (cellplane.2) completes every wave, across a kill -9 of
//     cellplane in the middle, and every cluster's API servers run its flags.
func TestPlatformRollout(t *testing.T) {
	// On an instance of its own, beside TestSecurityCustomerKeyDisabled,
	// which mostly waits.
	t.Parallel()
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	in.Cells = 2
	in.Start(ctx)
	cellCLI(ctx, t, in, "update", "cell-1", "--capacity", "2")
	cellCLI(ctx, t, in, "update", "cell-2", "--capacity", "2")
	names := []string{"ro1", "ro2", "ro3", "ro4"}
	for _, n := range names {
		if _, errOut, err := in.CLI(ctx, "cluster", "create", n); err != nil {
			t.Fatalf("cluster create %s: %v\n%s", n, err, errOut)
		}
	}
	perCell := map[string][]string{}
	for _, n := range names {
		waitStatus(t, in, n, "ACTIVE")
		perCell[cellOf(ctx, t, in, n)] = append(perCell[cellOf(ctx, t, in, n)], n)
	}
	if len(perCell["cell-1"]) != 2 || len(perCell["cell-2"]) != 2 {
		t.Fatalf("clusters per cell %v, want two in each", perCell)
	}
	for _, n := range names {
		if pv := describe(ctx, t, in, n).PlatformVersion; pv != "cellplane.1" {
			t.Fatalf("%s reports platform version %q, want cellplane.1", n, pv)
		}
	}

	refuseBadRolloutInput(ctx, t, in)

	// (a) The bad version: the canary is the first cluster of cell-1.
	file := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(file, []byte(badPlatformVersion), 0o600); err != nil {
		t.Fatal(err)
	}
	rolloutCLI(ctx, t, in, "register", file)
	before := map[string]map[string]int{}
	for _, n := range names {
		before[n] = clusterPIDs(ctx, t, in, n)
	}
	canary := slices.Min(perCell["cell-1"])
	start := time.Now()
	_, errOut, err := in.CLI(ctx, "rollout", "start", "--minor", "1.37", "--version", "cellplane.3",
		"--bake", "4s", "--apply-timeout", "40s", "--wait")
	if err == nil {
		t.Fatalf("a rollout of a broken version completed:\n%s", errOut)
	}
	t.Logf("bad rollout (%s): %v\n%s", time.Since(start).Round(time.Second), err, errOut)
	bad := onlyRollout(ctx, t, in, "cellplane.3")
	if bad.Status.State != v1alpha1.RolloutHalted || bad.Status.Alarm == nil || bad.Status.Alarm.Cluster != canary {
		t.Fatalf("bad rollout ended %s with alarm %+v, want Halted by an alarm on %s", bad.Status.State, bad.Status.Alarm, canary)
	}
	if w := bad.Status.Waves; w[0].Name != "canary" || w[0].Phase != v1alpha1.WaveRolledBack || w[1].Phase != v1alpha1.WavePending {
		t.Fatalf("bad rollout waves %+v, want the canary rolled back and the rest pending", w)
	}
	waitPlatform(ctx, t, in, canary, "cellplane.1")
	if _, err := kubectl(ctx, kubeconfig(ctx, t, in, canary), "get", "namespaces"); err != nil {
		t.Fatalf("the canary does not serve after its rollback: %v", err)
	}
	for _, n := range names {
		if n == canary {
			continue
		}
		if got := clusterPIDs(ctx, t, in, n); !maps.Equal(got, before[n]) {
			t.Errorf("%s was touched by the halted rollout: processes %v, before %v", n, got, before[n])
		}
		if pv := describe(ctx, t, in, n).PlatformVersion; pv != "cellplane.1" {
			t.Errorf("%s runs %s after the halted rollout", n, pv)
		}
	}

	// (b) The good version, with cellplane killed once the canary is done.
	out, errOut, err := in.CLI(ctx, "rollout", "start", "--minor", "1.37", "--version", "cellplane.2",
		"--bake", "4s", "--apply-timeout", "2m", "-o", "json")
	if err != nil {
		t.Fatalf("rollout start: %v\n%s", err, errOut)
	}
	var started v1alpha1.PlatformRollout
	if err := json.Unmarshal([]byte(out), &started); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := in.CLI(ctx, "rollout", "start", "--minor", "1.37", "--version", "cellplane.2"); err == nil {
		t.Error("a second rollout of 1.37 started while one runs")
	} else {
		t.Logf("a second rollout of 1.37: %s", strings.TrimSpace(errOut))
	}
	sawColumn := false
	waitRollout(ctx, t, in, started.Name, 3*time.Minute, func(ro *v1alpha1.PlatformRollout) bool {
		if !sawColumn && strings.Contains(cellRollout(ctx, t, in, "cell-1"), "cellplane.2") {
			sawColumn = true
		}
		return ro.Status.CurrentWave >= 1
	})
	if !sawColumn {
		t.Error("cell list never showed the rollout touching cell-1")
	}
	in.Kill()
	t.Log("killed cellplane with SIGKILL after the canary wave")
	in.Start(ctx)
	holdsWhilePaused(ctx, t, in, started.Name)
	done := waitRollout(ctx, t, in, started.Name, 6*time.Minute, func(ro *v1alpha1.PlatformRollout) bool {
		return ro.Status.State == v1alpha1.RolloutCompleted || ro.Status.State == v1alpha1.RolloutHalted
	})
	if done.Status.State != v1alpha1.RolloutCompleted {
		t.Fatalf("good rollout ended %s: %s (alarm %+v)", done.Status.State, done.Status.Message, done.Status.Alarm)
	}
	for _, w := range done.Status.Waves {
		if w.Phase != v1alpha1.WaveDone {
			t.Errorf("wave %s is %s", w.Name, w.Phase)
		}
	}
	for _, n := range names {
		waitPlatform(ctx, t, in, n, "cellplane.2")
		pid := clusterPIDs(ctx, t, in, n)["kube-apiserver-a"]
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !strings.Contains(string(cmdline), "--audit-log-maxage=7") {
			t.Errorf("%s's kube-apiserver-a (pid %d) runs without cellplane.2's flags: %v", n, pid, err)
		}
	}
	if out, _, _ := in.CLI(ctx, "rollout", "list"); !strings.Contains(out, "Completed") || !strings.Contains(out, "Halted") {
		t.Errorf("rollout list:\n%s", out)
	}
}

// holdsWhilePaused pauses a rollout, sees it hold its wave for a few
// seconds, and resumes it.
func holdsWhilePaused(ctx context.Context, t *testing.T, in *framework.Instance, name string) {
	t.Helper()
	rolloutCLI(ctx, t, in, "pause", name)
	paused := waitRollout(ctx, t, in, name, 30*time.Second, func(ro *v1alpha1.PlatformRollout) bool {
		return ro.Status.State == v1alpha1.RolloutPaused
	})
	at := progressOf(paused)
	deadline := time.Now().Add(5 * time.Second)
	err := framework.Eventually(ctx, 10*time.Second, time.Second, func() error {
		ro, err := describeRollout(ctx, in, name)
		if err != nil {
			return err
		}
		if got := progressOf(ro); got != at || ro.Status.State != v1alpha1.RolloutPaused {
			return framework.Permanent(fmt.Errorf("paused rollout moved from %s to %s %s", at, ro.Status.State, got))
		}
		if time.Now().Before(deadline) {
			return fmt.Errorf("still paused at %s", at)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rolloutCLI(ctx, t, in, "resume", name)
}

func progressOf(ro *v1alpha1.PlatformRollout) string {
	w := ro.Status.Waves[ro.Status.CurrentWave]
	return fmt.Sprintf("wave %d %s", ro.Status.CurrentWave, w.Phase)
}

// refuseBadRolloutInput checks that bad rollouts and registrations are
// refused with an error and leave no rollout behind.
func refuseBadRolloutInput(ctx context.Context, t *testing.T, in *framework.Instance) {
	t.Helper()
	dir := t.TempDir()
	badName := filepath.Join(dir, "badname.yaml")
	if err := os.WriteFile(badName, []byte(strings.Replace(badPlatformVersion, "cellplane.3", "eks.3", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"start", "--minor", "1.37", "--version", "cellplane.99"},
		{"start", "--minor", "1.20", "--version", "cellplane.2"},
		{"start", "--minor", "1.34", "--version", "cellplane.2"},
		{"start", "--minor", "1.37", "--version", "cellplane.2", "--waves", "50,10,100"},
		{"start", "--minor", "1.37", "--version", "cellplane.2", "--waves", "10,50"},
		{"start", "--minor", "1.37", "--version", "cellplane.2", "--cells", "cell-9"},
		{"register", badName},
		{"pause", "no-such-rollout"},
	} {
		_, errOut, err := in.CLI(ctx, append([]string{"rollout"}, args...)...)
		if err == nil {
			t.Errorf("rollout %v succeeded", args)
			continue
		}
		t.Logf("rollout %v: %s", args, strings.TrimSpace(errOut))
	}
	list, err := rolloutsOf(ctx, in)
	if err != nil || len(list) != 0 {
		t.Fatalf("bad input left rollouts %v (%v)", list, err)
	}
}

func rolloutCLI(ctx context.Context, t *testing.T, in *framework.Instance, args ...string) {
	t.Helper()
	if _, errOut, err := in.CLI(ctx, append([]string{"rollout"}, args...)...); err != nil {
		t.Fatalf("rollout %v: %v\n%s", args, err, errOut)
	}
}

func rolloutsOf(ctx context.Context, in *framework.Instance) ([]v1alpha1.PlatformRollout, error) {
	r, err := operatorOf(in).Rollouts()
	if err != nil {
		return nil, err
	}
	return r.List(ctx)
}

func onlyRollout(ctx context.Context, t *testing.T, in *framework.Instance, version string) *v1alpha1.PlatformRollout {
	t.Helper()
	list, err := rolloutsOf(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	var found []v1alpha1.PlatformRollout
	for _, ro := range list {
		if ro.Spec.PlatformVersion == version {
			found = append(found, ro)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d rollouts of %s, want 1", len(found), version)
	}
	return &found[0]
}

// waitRollout polls a rollout through 'rollout describe' until done says so.
func waitRollout(ctx context.Context, t *testing.T, in *framework.Instance, name string, within time.Duration,
	done func(*v1alpha1.PlatformRollout) bool) *v1alpha1.PlatformRollout {
	t.Helper()
	var ro v1alpha1.PlatformRollout
	last := ""
	err := framework.Eventually(ctx, within, time.Second, func() error {
		got, err := describeRollout(ctx, in, name)
		if err != nil {
			return err
		}
		ro = *got
		if line := fmt.Sprintf("%s wave %d: %s", ro.Status.State, ro.Status.CurrentWave, ro.Status.Message); line != last {
			t.Logf("rollout %s: %s", name, line)
			last = line
		}
		if !done(&ro) {
			return fmt.Errorf("rollout %s is %s at wave %d", name, ro.Status.State, ro.Status.CurrentWave)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\ncellplane log:\n%s", err, lastChars(in.Log(), 4000))
	}
	return &ro
}

// describeRollout reads a rollout through 'rollout describe'.
func describeRollout(ctx context.Context, in *framework.Instance, name string) (*v1alpha1.PlatformRollout, error) {
	out, errOut, err := in.CLI(ctx, "rollout", "describe", name, "-o", "json")
	if err != nil {
		return nil, fmt.Errorf("rollout describe: %w: %s", err, errOut)
	}
	ro := &v1alpha1.PlatformRollout{}
	return ro, json.Unmarshal([]byte(out), ro)
}

// waitPlatform waits until a cluster reports running version healthy.
func waitPlatform(ctx context.Context, t *testing.T, in *framework.Instance, name, version string) {
	t.Helper()
	err := framework.Eventually(ctx, 2*time.Minute, 500*time.Millisecond, func() error {
		cl, err := describeFull(ctx, in, name)
		if err != nil {
			return err
		}
		if cl.PlatformVersion != version || cl.Status != "ACTIVE" {
			return fmt.Errorf("%s is %s on %s, want ACTIVE on %s", name, cl.Status, cl.PlatformVersion, version)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func cellRollout(ctx context.Context, t *testing.T, in *framework.Instance, cell string) string {
	t.Helper()
	out, _, err := in.CLI(ctx, "cell", "list", "-o", "json")
	if err != nil {
		return ""
	}
	var resp struct {
		Cells []struct{ Name, Rollout string }
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("cell list output: %v\n%s", err, out)
	}
	for _, c := range resp.Cells {
		if c.Name == cell {
			return c.Rollout
		}
	}
	return ""
}

func lastChars(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
