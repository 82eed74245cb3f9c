// Package rollout is the 'cellplane rollout' command group: an operator's
// platform versions and their progressive rollouts across cells, over the
// operator client (package operator). One file per subcommand.
package rollout
