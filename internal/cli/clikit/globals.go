package clikit

import (
	"context"
	"io"

	"github.com/cellplane/cellplane/internal/client"
	"github.com/cellplane/cellplane/internal/operator"
)

// Globals are the flags and streams every subcommand shares.
type Globals struct {
	DataDir string
	Output  string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	// outErr is the first error writing the command's result (see output.go).
	outErr error
}

// OutErr is the first error writing the command's result, nil if all of it
// was written: Main reports it as the command's failure.
func (g *Globals) OutErr() error { return g.outErr }

// CheckOutput rejects an --output other than table or json as a usage error.
func (g *Globals) CheckOutput() error {
	if g.Output != "table" && g.Output != "json" {
		return Usagef("--output must be table or json, not %q", g.Output)
	}
	return nil
}

// Connect checks the output flag, then connects: the preamble of every cluster
// subcommand, so a bad flag fails before any network call.
func (g *Globals) Connect() (*client.Client, error) {
	if err := g.CheckOutput(); err != nil {
		return nil, err
	}
	return g.Client()
}

// Client connects to the service running on the data directory, signing with the
// AWS profile `cellplane up` wrote there: the CLI speaks the protocol SDKs speak.
func (g *Globals) Client() (*client.Client, error) {
	return client.FromDataDir(context.Background(), g.DataDir)
}

// Operator is the operator commands' client library on the data directory.
func (g *Globals) Operator() *operator.Client { return operator.New(g.DataDir) }
