package service

import (
	"fmt"
	"os"
	"strconv"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	cellctl "github.com/cellplane/cellplane/internal/cell"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

// Environment variables that lower etcd care's defragmentation thresholds, so
// tests can drive real defragmentation on small clusters. Unset, etcdcare's
// defaults apply (100 MiB and 50% free). cellplane up passes them on to every
// cell process it starts; each cell reads them when it starts.
const (
	// EnvDefragMinDBBytes is the backend size, in bytes, below which a member is
	// never defragmented (etcdcare.Policy.MinDBSize).
	EnvDefragMinDBBytes = "CELLPLANE_DEFRAG_MIN_DB_BYTES"
	// EnvDefragMinFragmentation is the share of the backend that must be free,
	// between 0 and 1 (etcdcare.Policy.MinFragmentation).
	EnvDefragMinFragmentation = "CELLPLANE_DEFRAG_MIN_FRAGMENTATION"
	// EnvGoawayChance replaces cell.DefaultGoawayChance as every API server's
	// --goaway-chance (0 to 0.02, 0 turning it off); tests raise it to see
	// connections rebalance in seconds.
	EnvGoawayChance = "CELLPLANE_APISERVER_GOAWAY_CHANCE"
)

// goawayChanceFromEnv reads EnvGoawayChance, defaulting to cell.DefaultGoawayChance.
func goawayChanceFromEnv() (float64, error) {
	v, ok := os.LookupEnv(EnvGoawayChance)
	if !ok {
		return cellctl.DefaultGoawayChance, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 0.02 {
		return 0, fmt.Errorf("%w: %s=%q is not a share between 0 and 0.02 (kube-apiserver's limit)", ErrInvalidConfig, EnvGoawayChance, v)
	}
	return f, nil
}

// setupEtcdCare registers the cell's etcd care on its controller manager.
func (cp *cellProcess) setupEtcdCare(mgr manager.Manager) error {
	pol, err := defragPolicyFromEnv()
	if err != nil {
		return err
	}
	if pol != (etcdcare.Policy{}) {
		cp.log.Info("etcd care defragmentation thresholds from the environment",
			"minDBBytes", pol.MinDBSize, "minFragmentation", pol.MinFragmentation)
	}
	r := &cellctl.EtcdCareReconciler{
		Client: mgr.GetClient(), Cell: cp.cell.plan, Dir: cp.cell.dir, Logger: cp.log, Defrag: pol, Zones: cp.zones,
	}
	return r.SetupWithManager(mgr)
}

// defragPolicyFromEnv reads the thresholds; zero fields keep etcdcare's defaults.
func defragPolicyFromEnv() (etcdcare.Policy, error) {
	var pol etcdcare.Policy
	if v, ok := os.LookupEnv(EnvDefragMinDBBytes); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return pol, fmt.Errorf("%w: %s=%q is not a positive number of bytes", ErrInvalidConfig, EnvDefragMinDBBytes, v)
		}
		pol.MinDBSize = n
	}
	if v, ok := os.LookupEnv(EnvDefragMinFragmentation); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 1 {
			return pol, fmt.Errorf("%w: %s=%q is not a share between 0 and 1", ErrInvalidConfig, EnvDefragMinFragmentation, v)
		}
		pol.MinFragmentation = f
	}
	return pol, nil
}

// etcdCareEnv is the environment of a cell process: nil (PATH and HOME only, the
// runtime's default) unless etcd care's variables are set, which are passed on.
// Nil keeps the process spec's hash unchanged, so a cell that survived an
// earlier cellplane up is adopted rather than restarted.
func etcdCareEnv() []string {
	var env []string
	for _, k := range []string{EnvDefragMinDBBytes, EnvDefragMinFragmentation, EnvGoawayChance} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if env == nil {
		return nil
	}
	for _, k := range []string{"PATH", "HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
