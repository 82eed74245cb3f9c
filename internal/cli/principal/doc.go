// Package principal is the `cellplane user` and `cellplane role` command
// groups: the operator's commands for an account's IAM users, their access
// keys, and roles with their trust lists. They are thin layers over
// operator.Principals and stand on clikit like the rest of the CLI.
package principal
