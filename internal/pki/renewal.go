package pki

import (
	"fmt"
	"time"
)

// Renewal says how long the leaf certificates of a tenant control plane live
// and how long before they expire they are replaced.
//
// RenewBefore must leave time for every component to pick the new files up
// before the old ones expire: kube-apiserver reloads its serving certificate
// on a file event or, failing that, within a minute; etcd reads its files on
// every handshake; kube-controller-manager and kube-scheduler are restarted
// one at a time (internal/cell/certroll).
type Renewal struct {
	Lifetime    time.Duration
	RenewBefore time.Duration
}

// Defaults of a cell started without flags: leaves for a year, renewed a month
// before they expire, so a renewal never races anything.
const (
	DefaultLeafLifetime    = 365 * 24 * time.Hour
	DefaultLeafRenewBefore = 30 * 24 * time.Hour
)

// Limits Validate enforces. MinRenewBefore covers kube-apiserver's fallback
// re-read of its serving certificate (a minute) when a file event is missed;
// MinUse keeps a renewed certificate in use for a while, so a renewal cannot
// turn into a reissue on every pass; a leaf never outlives its CA.
const (
	MinRenewBefore  = time.Minute
	MinLeafUse      = 30 * time.Second
	MaxLeafLifetime = caValidity
)

// DefaultRenewal is a year, renewed 30 days before expiry.
func DefaultRenewal() Renewal {
	return Renewal{Lifetime: DefaultLeafLifetime, RenewBefore: DefaultLeafRenewBefore}
}

// Validate refuses lifetimes that would expire certificates before
// components reload them, renew them on every pass, or outlive the CA.
func (r Renewal) Validate() error {
	switch {
	case r.Lifetime <= 0 || r.Lifetime > MaxLeafLifetime:
		return fmt.Errorf("%w: leaf certificate lifetime %s is not between 0 and %s (the CA's)", ErrInvalidRenewal, r.Lifetime, MaxLeafLifetime)
	case r.RenewBefore < MinRenewBefore:
		return fmt.Errorf("%w: renewing leaf certificates %s before expiry leaves components no time to reload them; at least %s", ErrInvalidRenewal, r.RenewBefore, MinRenewBefore)
	case r.Lifetime-r.RenewBefore < MinLeafUse:
		return fmt.Errorf("%w: a leaf certificate living %s and renewed %s before expiry would be in use less than %s", ErrInvalidRenewal, r.Lifetime, r.RenewBefore, MinLeafUse)
	}
	return nil
}

// orDefault lets the zero Renewal mean the defaults.
func (r Renewal) orDefault() Renewal {
	if r == (Renewal{}) {
		return DefaultRenewal()
	}
	return r
}

// Renewed is what one EnsureClusterWith did and when it needs to run next.
type Renewed struct {
	// Issued names the leaves written in this call (new, stale or expiring),
	// by file name without extension, e.g. "controller-manager".
	Issued []string
	// Next is when the first leaf enters its renewal window; a reconciler
	// that comes back by then renews it in time.
	Next time.Time
}
