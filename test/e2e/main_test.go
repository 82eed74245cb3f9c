// Package e2e tests cellplane end to end with real binaries: the cellplane command,
// etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl, all
// built from their upstream modules. Nothing here is faked.
package e2e

import (
	"os"
	"testing"

	"github.com/cellplane/cellplane/test/framework"
)

var bins framework.Binaries

func TestMain(m *testing.M) { os.Exit(framework.Main(m, &bins)) }
