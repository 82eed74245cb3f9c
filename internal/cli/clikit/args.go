package clikit

import "github.com/spf13/cobra"

// AsGroup makes a command that only holds subcommands print its help when called
// bare and reject anything else as a usage error.
func AsGroup(cmd *cobra.Command) {
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return Usagef("unknown command %q for %q; see '%s --help'", args[0], c.CommandPath(), c.CommandPath())
		}
		return nil
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
}

// NoArgs rejects positional arguments as a usage error.
func NoArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("%s takes no arguments, got %q", c.CommandPath(), args)
	}
	return nil
}

// ExactlyOne accepts one positional argument, described as what in the error.
func ExactlyOne(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return Usagef("%s needs exactly one %s, got %d arguments", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}
