package controlplane

import (
	"context"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/ipam"
)

// KindScheduler places the cluster's pods.
const KindScheduler = "kube-scheduler"

func init() { register(scheduler{}) }

type scheduler struct{}

func (scheduler) Kind() string               { return KindScheduler }
func (scheduler) Zones() []string            { return []string{"a", "b"} }
func (scheduler) Address() (index, port int) { return 3, ipam.SchedulerPort }
func (scheduler) Tier() Tier                 { return TierControllers }
func (scheduler) Condition() string          { return v1alpha1.ConditionControllersReady }

// ZoneOut: like the controller manager, its leadership moves out with it.
func (scheduler) ZoneOut() ZoneOut { return ZoneOutStop }

func (scheduler) WriteFiles(p *Plan) error {
	return p.writeControllerKubeconfigs(KindScheduler, p.pki.Scheduler)
}

func (scheduler) Check(ctx context.Context, pr *Prober, m Member) error {
	return checkSelfServed(ctx, pr, m)
}

func (scheduler) Command(p *Plan, m Member) (string, []string) {
	return p.in.Kubernetes.KubeScheduler, p.controllerArgs(m)
}
