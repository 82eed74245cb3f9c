// Package zonehealth decides when one zone of a cell is impaired: blackholed,
// slow or lossy, a gray failure rather than a plain outage, so the cell can
// evacuate it. Each round it times a TCP connect and TLS handshake to every
// zone's components and canary, judges each zone against the others in the
// same round, and applies hysteresis, so that neither a flapping zone nor a
// machine that is slow everywhere at once ever evacuates a zone.
package zonehealth
