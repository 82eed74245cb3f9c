// Package redact takes host internals out of free text before it reaches a
// tenant: file paths, IP addresses and process IDs that a cell wrote into a
// status message or a failure reason. The operator's own views keep the
// original text; this package only decides what a tenant may read.
package redact
