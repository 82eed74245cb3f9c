package components

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// recordSums compares the build's go.sum with the committed sums. In update mode it
// merges new lines into SumFile; otherwise it warns, because a build that needed sums
// not in components.sum verified them only against the checksum database.
func (c *Cache) recordSums(work string) error {
	got, err := os.ReadFile(filepath.Join(work, "go.sum")) //nolint:gosec // G304: the build's own directory in the cache
	if err != nil {
		return fmt.Errorf("reading build go.sum: %w", err)
	}
	if c.cfg.SumFile == "" {
		if n := len(newLines(componentsSum, got)); n > 0 {
			c.progressf("warning: %d module checksums are not in components.sum; run make components-sum\n", n)
		}
		return nil
	}
	old, err := os.ReadFile(c.cfg.SumFile)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("reading %s: %w", c.cfg.SumFile, err)
	}
	return os.WriteFile(c.cfg.SumFile, mergeSums(old, got), 0o644) //nolint:gosec // G306: components.sum is a committed source file, readable like the rest
}

func newLines(have, got []byte) []string {
	seen := map[string]bool{}
	for _, l := range strings.Split(string(have), "\n") {
		seen[l] = true
	}
	var out []string
	for _, l := range strings.Split(string(got), "\n") {
		if l != "" && !seen[l] {
			out = append(out, l)
		}
	}
	return out
}

// mergeSums returns the sorted union of two go.sum files.
func mergeSums(a, b []byte) []byte {
	set := map[string]bool{}
	for _, l := range strings.Split(string(a)+"\n"+string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			set[l] = true
		}
	}
	lines := make([]string, 0, len(set))
	for l := range set {
		lines = append(lines, l)
	}
	sort.Strings(lines)
	var buf bytes.Buffer
	for _, l := range lines {
		buf.WriteString(l + "\n")
	}
	return buf.Bytes()
}
