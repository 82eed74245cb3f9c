package bench

import (
	"os"
	"testing"

	"github.com/cellplane/cellplane/test/framework"
)

var bins framework.Binaries

func TestMain(m *testing.M) { os.Exit(framework.Main(m, &bins)) }
