package lb

import "slices"

// candidate is a backend with the health and load it had when ranked; taking
// them once keeps the sort consistent while connections come and go.
type candidate struct {
	b        *backend
	state    HealthState
	draining bool
	active   int
}

// rankBackends orders backends for a new connection: healthy ones by fewest
// active connections, then unknown ones the same way, then unhealthy ones as a
// last resort. A check can lag a backend that has just become ready; trying it
// beats closing the client when nothing else answers.
// Starting the scan at a rotating offset breaks ties round-robin, and the
// stable sort keeps that order among equals.
func rankBackends(backends []*backend, start int) []*backend {
	cands := make([]candidate, 0, len(backends))
	for i := range backends {
		b := backends[(start+i)%len(backends)]
		st := b.status()
		cands = append(cands, candidate{b: b, state: st.State, draining: st.Draining, active: st.ActiveConnections})
	}
	return rankCandidates(cands)
}

func rankCandidates(cands []candidate) []*backend {
	slices.SortStableFunc(cands, func(a, b candidate) int {
		if ra, rb := candidateRank(a), candidateRank(b); ra != rb {
			return ra - rb
		}
		return a.active - b.active
	})
	ranked := make([]*backend, len(cands))
	for i, c := range cands {
		ranked[i] = c.b
	}
	return ranked
}

// candidateRank puts healthy before unknown before draining before unhealthy:
// each is tried only when every backend ranked before it failed to dial.
func candidateRank(c candidate) int {
	switch {
	case c.state == StateUnhealthy:
		return 3
	case c.draining:
		return 2
	case c.state == StateHealthy:
		return 0
	default:
		return 1
	}
}
