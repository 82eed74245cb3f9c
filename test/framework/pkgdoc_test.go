package framework

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryPackageHasADoc keeps a package comment in every package: what it owns,
// in two or three sentences, for the next person to open the folder.
func TestEveryPackageHasADoc(t *testing.T) {
	root := repoRoot()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "bin" || name == "testdata") {
			return filepath.SkipDir
		}
		if !hasDoc(t, path) {
			rel, _ := filepath.Rel(root, path)
			t.Errorf("package %s has no package comment", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// hasDoc reports whether the Go files of dir (if any) carry a package comment.
func hasDoc(t *testing.T, dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	sawGo := false
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		sawGo = true
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
			return true
		}
	}
	return !sawGo
}
