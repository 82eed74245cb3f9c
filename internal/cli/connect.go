package cli

import (
	"context"

	"github.com/cellplane/cellplane/internal/client"
	"github.com/cellplane/cellplane/internal/service"
)

// client connects to the service running on the data directory, signing with the
// AWS profile `cellplane up` wrote there: the CLI speaks the protocol SDKs speak.
func (g *globals) client() (*client.Client, error) {
	return service.ClientFor(context.Background(), g.dataDir)
}
