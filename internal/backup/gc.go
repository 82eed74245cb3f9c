package backup

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Retention defaults: three fulls, and every full of the last day.
const (
	DefaultKeepFulls  = 3
	DefaultKeepWithin = 24 * time.Hour
	// orphanGrace is how old an object without its partner must be before GC
	// removes it: younger ones may belong to an upload in progress.
	orphanGrace = time.Hour
)

// Retention says which fulls to keep. A full is kept if it is one of the newest
// KeepFulls or was created within KeepWithin; incrementals are kept as long as a
// kept full's chain may need them.
type Retention struct {
	KeepFulls  int
	KeepWithin time.Duration
}

func (r Retention) withDefaults() Retention {
	if r.KeepFulls <= 0 {
		r.KeepFulls = DefaultKeepFulls
	}
	if r.KeepWithin <= 0 {
		r.KeepWithin = DefaultKeepWithin
	}
	return r
}

// Doomed lists what c holds beyond the retention at time now: fulls no longer
// kept, incrementals that end at or before the oldest kept full (no kept full's
// chain starts before it), and orphans older than an hour. An incremental that
// straddles the oldest kept full is kept.
func (r Retention) Doomed(c Catalog, now time.Time) (fulls, incrementals []Entry, orphans []string) {
	r = r.withDefaults()
	oldestKept := int64(-1)
	for i := len(c.Fulls) - 1; i >= 0; i-- {
		f := c.Fulls[i]
		if len(c.Fulls)-1-i < r.KeepFulls || now.Sub(f.Created) < r.KeepWithin {
			oldestKept = f.Revision
			continue
		}
		fulls = append(fulls, f)
	}
	if oldestKept >= 0 {
		for _, e := range c.Incrementals {
			if e.Revision <= oldestKept {
				incrementals = append(incrementals, e)
			}
		}
	}
	for _, o := range c.Orphans {
		if now.Sub(o.Modified) > orphanGrace {
			orphans = append(orphans, o.Key)
		}
	}
	return fulls, incrementals, orphans
}

// GCResult counts what GC removed.
type GCResult struct{ Fulls, Incrementals, Orphans int }

// GC deletes what the retention no longer keeps. Every manifest goes before any
// data, so an interrupted GC leaves only objects a listing ignores, which the
// next GC removes as orphans.
func (s *Set) GC(ctx context.Context, r Retention, now time.Time) (GCResult, error) {
	c, err := s.List(ctx)
	if err != nil {
		return GCResult{}, err
	}
	fulls, incs, orphans := r.Doomed(c, now)
	doomed := append(fulls, incs...)
	for _, e := range doomed {
		if err := s.store.Delete(ctx, s.prefix+manifestKey(e.Key)); err != nil {
			return GCResult{}, fmt.Errorf("deleting manifest of %s: %w", e.ID(), err)
		}
	}
	var errs []error
	for _, e := range doomed {
		errs = append(errs, s.store.Delete(ctx, s.prefix+e.Key))
	}
	for _, k := range orphans {
		errs = append(errs, s.store.Delete(ctx, k))
	}
	if err := errors.Join(errs...); err != nil {
		return GCResult{}, fmt.Errorf("deleting expired backups: %w", err)
	}
	return GCResult{Fulls: len(fulls), Incrementals: len(incs), Orphans: len(orphans)}, nil
}
