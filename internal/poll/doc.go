// Package poll owns waiting for a condition that cellplane cannot be told about,
// only ask: it calls a function again and again, at an interval and up to a
// deadline, and says how long it waited and why it gave up. Tests wait on events
// with it instead of sleeping; it keeps no state and starts no goroutines.
package poll
