package nodegroups

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/kubeconfig"
	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

// Files of a node's directory.
const (
	credentialName = "kubelet" // kubelet.crt and kubelet.key
	kubeconfigFile = "kubeconfig"
	portFile       = "port"
	// registrationFile holds the labels and taints the node registers
	// with, read by the hollow-node wrapper at every start: kept out of
	// the arguments, so changing them restarts no node (the cell patches
	// the running Node instead).
	registrationFile = "registration.json"
	// rolloutFile holds the group's rollout the node was made under.
	rolloutFile = "rollout"
	tmpDir      = "tmp"
)

// Registration is what a hollow node registers with.
type Registration struct {
	Labels map[string]string `json:"labels"`
	// Taints are <key>=<value>:<Effect>, Kubernetes' spelling.
	Taints []string `json:"taints,omitempty"`
}

// registration is what a node of ng in zone registers with.
func registration(ng *v1alpha1.NodeGroup, zone string) Registration {
	r := Registration{Labels: nodeLabels(ng, zone)}
	for _, t := range ng.Spec.Taints {
		r.Taints = append(r.Taints, fmt.Sprintf("%s=%s:%s", t.Key, t.Value, kubernetesEffect(t.Effect)))
	}
	return r
}

var effects = map[string]string{"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}

func kubernetesEffect(e string) string { return effects[e] }

// Args are the kubemark flags of a registration, for the wrapper.
func (r Registration) Args() []string {
	keys := make([]string, 0, len(r.Labels))
	for k := range r.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	labels := make([]string, 0, len(keys))
	for _, k := range keys {
		labels = append(labels, k+"="+r.Labels[k])
	}
	out := []string{"--node-labels=" + strings.Join(labels, ",")}
	if len(r.Taints) > 0 {
		out = append(out, "--register-with-taints="+strings.Join(r.Taints, ","))
	}
	return out
}

// ReadRegistration reads a node's registration file.
func ReadRegistration(path string) (Registration, error) {
	var r Registration
	b, err := os.ReadFile(path) //nolint:gosec // G304: the node's own file, named by the cell
	if err != nil {
		return r, fmt.Errorf("reading node registration: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("reading node registration %s: %w", path, err)
	}
	return r, nil
}

// hollowNode is one node's files and process.
type hollowNode struct {
	node
	Dir string
}

// prepare writes the node's credential, kubeconfig, registration and port:
// a client certificate of system:node:<name> in system:nodes, signed by
// the cluster's CA, so the Node authorizer lets it act for its own Node
// only.
func (h hollowNode) prepare(ng *v1alpha1.NodeGroup, p *controlplane.Plan, ca *pki.CA) error {
	if err := os.MkdirAll(filepath.Join(h.Dir, tmpDir), 0o700); err != nil {
		return fmt.Errorf("creating node directory: %w", err)
	}
	req := pki.CertRequest{CommonName: "system:node:" + h.Name, Organization: []string{"system:nodes"}, Usage: pki.Client}
	if _, err := pki.EnsurePair(h.Dir, credentialName, ca, req); err != nil {
		return fmt.Errorf("issuing credential of node %s: %w", h.Name, err)
	}
	if err := h.writeKubeconfig(ng, p); err != nil {
		return err
	}
	b, err := json.Marshal(registration(ng, h.Zone))
	if err != nil {
		return err
	}
	if err := writeIfChanged(filepath.Join(h.Dir, registrationFile), b); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(h.Dir, rolloutFile)); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(filepath.Join(h.Dir, rolloutFile), []byte(strconv.Itoa(int(ng.Spec.Rollout))), 0o600); err != nil {
			return fmt.Errorf("writing rollout of node %s: %w", h.Name, err)
		}
	}
	_, err = h.port()
	return err
}

// writeKubeconfig writes the node's kubeconfig, credentials embedded, into
// the node's /tmp: the one directory the node sees where it is on the host
// too, wherever the cell's data directory is.
func (h hollowNode) writeKubeconfig(ng *v1alpha1.NodeGroup, p *controlplane.Plan) error {
	ca, err := os.ReadFile(p.Files().CABundle)
	if err != nil {
		return fmt.Errorf("reading trust bundle: %w", err)
	}
	cert, err := os.ReadFile(filepath.Join(h.Dir, credentialName+".crt"))
	if err != nil {
		return fmt.Errorf("reading credential of node %s: %w", h.Name, err)
	}
	key, err := os.ReadFile(filepath.Join(h.Dir, credentialName+".key"))
	if err != nil {
		return fmt.Errorf("reading credential of node %s: %w", h.Name, err)
	}
	b, err := kubeconfig.Marshal(kubeconfig.Options{
		ClusterName: ng.Spec.ClusterName, Server: p.Endpoint(), User: "system:node:" + h.Name,
		CAData: ca, CertData: cert, KeyData: key,
	})
	if err != nil {
		return fmt.Errorf("writing kubeconfig of node %s: %w", h.Name, err)
	}
	return writeIfChanged(filepath.Join(h.Dir, tmpDir, kubeconfigFile), b)
}

// port is the node's kubelet port: chosen free once, then kept, so a
// restarted node serves where its Node says it does.
func (h hollowNode) port() (int, error) {
	path := filepath.Join(h.Dir, portFile)
	if b, err := os.ReadFile(path); err == nil { //nolint:gosec // G304: the node's own file
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return p, nil
		}
	}
	p, err := freePort()
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(p)), 0o600); err != nil {
		return 0, fmt.Errorf("recording kubelet port: %w", err)
	}
	return p, nil
}

// Kubelet ports come from below the kernel's ephemeral range (32768 up by
// default): a port there that is free now may be taken by any outgoing
// connection before the kubelet binds it.
const (
	portLow  = 20000
	portHigh = 32000
)

// freePort picks a port of the range that nothing listens on, on every
// address, as the kubelet binds it.
func freePort() (int, error) {
	for range 100 {
		p := portLow + rand.IntN(portHigh-portLow) //nolint:gosec // G404: a port, not a secret
		if bindable(p) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free kubelet port in %d-%d", portLow, portHigh)
}

func bindable(p int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", p))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// repickPort drops the node's port when something else took it: the node
// is down and restarting, and its port cannot be bound. The next prepare
// chooses another, which restarts the node on it.
func (h hollowNode) repickPort(st process.Status, known bool) error {
	if !known || st.Running || st.Restarts == 0 {
		return nil
	}
	p, err := h.port()
	if err != nil || bindable(p) {
		return err
	}
	if err := os.Remove(filepath.Join(h.Dir, portFile)); err != nil {
		return fmt.Errorf("dropping the taken port of node %s: %w", h.Name, err)
	}
	return nil
}

// rollout is the group rollout the node was made under.
func (h hollowNode) rollout() int32 {
	b, err := os.ReadFile(filepath.Join(h.Dir, rolloutFile))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return int32(n) //nolint:gosec // G109: written by this package from an int32
}

// spec is the node's process: kubemark morphed into a kubelet with the fake
// runtime, started through cellplane's hollow-node wrapper, which gives it
// a /tmp of its own in the node's directory (kubemark puts its root
// directory and runtime socket under /tmp, whatever TMPDIR says) and the
// registration of the moment.
func (h hollowNode) spec(id, cellplane, kubemark string, cg process.Cgroup) (process.Spec, error) {
	port, err := h.port()
	if err != nil {
		return process.Spec{}, err
	}
	args := []string{"hollow-node", "--tmp", filepath.Join(h.Dir, tmpDir), "--registration", filepath.Join(h.Dir, registrationFile), "--",
		kubemark, "--morph=kubelet", "--use-host-image-service=false", "--name=" + h.Name,
		"--kubeconfig=" + filepath.Join(h.Dir, tmpDir, kubeconfigFile), "--kubelet-port=" + strconv.Itoa(port), "--kubelet-read-only-port=0",
		"--max-pods=110",
	}
	return process.Spec{ID: id, Path: cellplane, Args: args, StateDir: h.Dir, Name: "kubemark", Cgroup: cg}, nil
}

// writeIfChanged writes b unless path holds it already.
func writeIfChanged(path string, b []byte) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(b) { //nolint:gosec // G304: the node's own file
		return nil
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// stopSpec is enough of the node's process spec to stop it: the runtime
// stops from the pid file alone.
func (h hollowNode) stopSpec(id string) process.Spec {
	return process.Spec{ID: id, StateDir: h.Dir, Name: "kubemark"}
}
