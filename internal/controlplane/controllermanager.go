package controlplane

import (
	"context"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/ipam"
)

// KindControllerManager runs the cluster's controllers.
const KindControllerManager = "kube-controller-manager"

func init() { register(controllerManager{}) }

type controllerManager struct{}

func (controllerManager) Kind() string               { return KindControllerManager }
func (controllerManager) Zones() []string            { return []string{"a", "b"} }
func (controllerManager) Address() (index, port int) { return 2, ipam.ControllerManagerPort }
func (controllerManager) Tier() Tier                 { return TierControllers }
func (controllerManager) Condition() string          { return v1alpha1.ConditionControllersReady }

// ZoneOut: a controller leaving a zone hands its lease to the one in another
// zone.
func (controllerManager) ZoneOut() ZoneOut { return ZoneOutStop }

func (controllerManager) WriteFiles(p *Plan) error {
	return p.writeControllerKubeconfigs(KindControllerManager, p.pki.ControllerManager)
}

func (controllerManager) Check(ctx context.Context, pr *Prober, m Member) error {
	return checkSelfServed(ctx, pr, m)
}

func (controllerManager) Command(p *Plan, m Member) (string, []string) {
	f := p.pki
	return p.in.Kubernetes.KubeControllerManager, append(p.controllerArgs(m),
		"--client-ca-file="+f.CABundle,
		"--requestheader-client-ca-file="+f.FrontProxyCA,
		"--cluster-signing-cert-file="+f.CA,
		"--cluster-signing-key-file="+f.CAKey,
		"--root-ca-file="+f.CABundle,
		"--service-account-private-key-file="+f.SAKey,
		"--use-service-account-credentials=true",
		"--controllers=*,bootstrapsigner,tokencleaner",
		"--cluster-name="+p.in.Name,
		"--service-cluster-ip-range="+ServiceCIDR,
		"--profiling=false",
	)
}
