package framework

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// These limits keep every concern in a room of its own: a package that grows
// past them, or a controller that collects methods, is the sign that a
// capability should move into a package named for it.
const (
	maxPackageLines = 2500 // non-test lines of a package under internal/
	maxTypeMethods  = 20   // methods of a reconciler, controller, worker or runner type
)

// goFiles lists the non-test Go files of each package directory under root.
func goFiles(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			out[filepath.Dir(path)] = append(out[filepath.Dir(path)], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for s := bufio.NewScanner(f); s.Scan(); {
		n++
	}
	return n
}

func TestPackagesStaySmall(t *testing.T) {
	root := repoRoot()
	for dir, files := range goFiles(t, filepath.Join(root, "internal")) {
		lines := 0
		for _, f := range files {
			lines += countLines(t, f)
		}
		if lines > maxPackageLines {
			rel, _ := filepath.Rel(root, dir)
			t.Errorf("package %s has %d non-test lines, more than %d: give one of its concerns a package of its own", rel, lines, maxPackageLines)
		}
	}
}

// controllerLike names the types whose methods are counted.
func controllerLike(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"reconciler", "controller", "worker", "runner"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

func TestControllersStaySmall(t *testing.T) {
	root := repoRoot()
	for dir, files := range goFiles(t, filepath.Join(root, "internal")) {
		methods := map[string]int{}
		for _, path := range files {
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv != nil && len(fn.Recv.List) == 1 {
					methods[receiverType(fn.Recv.List[0].Type)]++
				}
			}
		}
		for typ, n := range methods {
			if controllerLike(typ) && n > maxTypeMethods {
				rel, _ := filepath.Rel(root, dir)
				t.Errorf("%s.%s has %d methods, more than %d: split a concern out of it", rel, typ, n, maxTypeMethods)
			}
		}
	}
}

func receiverType(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return receiverType(x.X)
	case *ast.IndexExpr:
		return receiverType(x.X)
	case *ast.Ident:
		return x.Name
	}
	return ""
}

// TestAPIImportsNothingInternal keeps the resource types a contract that
// clients can import without pulling in controllers.
func TestAPIImportsNothingInternal(t *testing.T) {
	root := repoRoot()
	const internal = "github.com/cellplane/cellplane/internal"
	for _, files := range goFiles(t, filepath.Join(root, "api")) {
		for _, path := range files {
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				if p, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(p, internal) {
					rel, _ := filepath.Rel(root, path)
					t.Errorf("%s imports %s: api/ must import nothing of cellplane's", rel, p)
				}
			}
		}
	}
}
