// Package cli is cellplane's command line: one file per subcommand, each a thin
// layer over the same libraries the tests use (the service, the region API client,
// the component cache).
package cli
