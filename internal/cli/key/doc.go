// Package key is the `cellplane key` command group: create, list, describe,
// disable, enable and rotate the account's keys in the region's key service (the
// AWS KMS API), whose ARNs 'cluster create --encryption-key' and 'cluster
// encrypt' take. It stands on clikit like the rest of the CLI.
package key
