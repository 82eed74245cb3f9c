package controlplane

import "github.com/cellplane/cellplane/internal/runtime/process"

// Spec returns the process that runs member m.
func (p *Plan) Spec(m Member) process.Spec {
	path, args := m.Component.Command(p, m)
	args = p.in.Platform.Apply(m.Kind, args)
	s := process.Spec{
		ID:       p.ID() + "/" + m.Name(),
		Path:     path,
		Args:     args,
		Dir:      p.in.Dir,
		StateDir: p.LogDir(),
		Name:     m.Name(),
		NetNS:    p.in.ZoneNetNS[m.Zone],
	}
	if e, ok := m.Component.(environer); ok {
		s.Env = e.Env(p, m)
	}
	p.isolate(&s, m)
	return s
}

// environer is a Component whose members need an environment of their own
// rather than PATH and HOME alone.
type environer interface {
	Env(p *Plan, m Member) []string
}
