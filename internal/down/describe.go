package down

import (
	"fmt"
	"strings"
)

// noun names one kind of process, singular and plural, for progress lines.
type noun struct {
	kind   Kind
	tenant bool
	one    string
	many   string
}

// nouns are in stop order, tenant members before store members.
var nouns = []noun{
	{KindCell, false, "cell process", "cell processes"},
	{KindLB, false, "load balancer", "load balancers"},
	{KindController, true, "tenant controller", "tenant controllers"},
	{KindController, false, "controller", "controllers"},
	{KindOther, true, "other tenant process", "other tenant processes"},
	{KindOther, false, "other process", "other processes"},
	{KindAPIServer, true, "tenant API server", "tenant API servers"},
	{KindAPIServer, false, "store API server", "store API servers"},
	{KindEtcd, true, "tenant etcd member", "tenant etcd members"},
	{KindEtcd, false, "store etcd member", "store etcd members"},
}

// Describe counts procs by kind: "1 load balancer, 4 tenant controllers".
func Describe(procs []Process) string {
	var parts []string
	for _, n := range nouns {
		c := 0
		for _, p := range procs {
			if p.Kind == n.kind && p.Tenant() == n.tenant {
				c++
			}
		}
		switch {
		case c == 1:
			parts = append(parts, "1 "+n.one)
		case c > 1:
			parts = append(parts, fmt.Sprintf("%d %s", c, n.many))
		}
	}
	return strings.Join(parts, ", ")
}

// Describe says what runs: "cellplane up (pid 42), 1 cell process, ...".
func (p *Plan) Describe() string {
	var parts []string
	if p.Up != nil {
		parts = append(parts, fmt.Sprintf("cellplane up (pid %d)", p.Up.PID))
	}
	if d := Describe(p.Processes); d != "" {
		parts = append(parts, d)
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}
