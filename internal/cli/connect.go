package cli

import (
	"context"

	"github.com/cellplane/cellplane/internal/client"
	"github.com/cellplane/cellplane/internal/operator"
)

// client connects to the service running on the data directory, signing with the
// AWS profile `cellplane up` wrote there: the CLI speaks the protocol SDKs speak.
func (g *globals) client() (*client.Client, error) {
	return client.FromDataDir(context.Background(), g.dataDir)
}

// operator is the operator commands' client library on the data directory.
func (g *globals) operator() *operator.Client { return operator.New(g.dataDir) }
