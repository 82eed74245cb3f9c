// Package clikit is what every cellplane subcommand stands on, whichever package
// holds it: the shared flags and writers (Globals), the output helpers (Printf,
// Note, PrintJSON, Table), the connection to the service, and the usage errors
// and argument checks that decide the exit code. internal/cli and its command
// packages (internal/cli/key) all use it, so every command behaves the same.
package clikit
