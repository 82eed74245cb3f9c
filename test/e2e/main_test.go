// Package e2e tests cellplane end to end with real binaries: the cellplane command,
// etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl, all
// built from their upstream modules. Nothing here is faked.
package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/cellplane/cellplane/test/framework"
)

var bins framework.Binaries

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cellplane-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins, err = framework.Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
