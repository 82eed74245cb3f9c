package addons

import (
	"fmt"
	"net"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/cellplane/cellplane/internal/addoncatalog"
	"github.com/cellplane/cellplane/internal/controlplane"
)

// Input is what an add-on's objects are rendered from.
type Input struct {
	Addon   string
	Version addoncatalog.Version
	Config  addoncatalog.Config
	// APIServer is the URL kube-proxy reaches the API server at: it cannot
	// use the kubernetes Service, whose rules it writes itself.
	APIServer string
}

// DNSServiceIP is the kube-dns Service's address: the tenth of the service
// network, as EKS and kubeadm place it and kubelets' clusterDNS expect.
func DNSServiceIP() string {
	_, n, err := net.ParseCIDR(controlplane.ServiceCIDR)
	if err != nil {
		panic(fmt.Sprintf("controlplane.ServiceCIDR %q: %v", controlplane.ServiceCIDR, err)) // a constant
	}
	ip := n.IP.To4()
	return net.IPv4(ip[0], ip[1], ip[2], ip[3]+10).String()
}

// Render returns the add-on's objects, in the order they are applied.
func Render(in Input) ([]*unstructured.Unstructured, error) {
	var docs []any
	switch in.Addon {
	case addoncatalog.CoreDNS:
		docs = coreDNS(in)
	case addoncatalog.KubeProxy:
		docs = kubeProxy(in)
	default:
		return nil, fmt.Errorf("rendering add-on %q: not in the catalogue", in.Addon)
	}
	out := make([]*unstructured.Unstructured, 0, len(docs))
	for _, d := range docs {
		b, err := yaml.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("rendering add-on %s: %w", in.Addon, err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(b, &u.Object); err != nil {
			return nil, fmt.Errorf("rendering add-on %s: %w", in.Addon, err)
		}
		out = append(out, u)
	}
	return out, nil
}

type obj = map[string]any

func meta(name string, labels obj) obj {
	m := obj{"name": name, "labels": labels}
	if name != "" && !clusterScoped[name] {
		m["namespace"] = Namespace
	}
	return m
}

// Namespace is where the add-ons' namespaced objects live.
const Namespace = "kube-system"

// clusterScoped names the add-ons' cluster-scoped objects.
var clusterScoped = map[string]bool{"system:coredns": true, "eks:kube-proxy": true}

// defaultCorefile is CoreDNS's configuration unless configurationValues
// give one: the cluster's names from the API, as kubeadm and EKS configure
// it, but with no forward: kubeadm's sends every other name to the node's
// resolver, and here no query may leave the machine (nodes have no
// resolver and no route out), so other names get no answer.
const defaultCorefile = `.:53 {
    errors
    health {
        lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    prometheus :9153
    cache 30
    loop
    reload
    loadbalance
}
`

// criticalTolerations let the add-ons onto nodes tainted for critical
// add-ons only.
var criticalTolerations = []obj{{"key": "CriticalAddonsOnly", "operator": "Exists"}}

func coreDNS(in Input) []any {
	labels := obj{"k8s-app": "kube-dns", "eks.amazonaws.com/component": "coredns"}
	corefile := in.Config.Corefile
	if corefile == "" {
		corefile = defaultCorefile
	}
	port := func(name string, p int, proto string) obj {
		return obj{"name": name, "containerPort": p, "protocol": proto}
	}
	return []any{
		obj{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("coredns", labels)},
		obj{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta("system:coredns", labels),
			"rules": []obj{
				{"apiGroups": []string{""}, "resources": []string{"endpoints", "services", "pods", "namespaces"}, "verbs": []string{"list", "watch"}},
				{"apiGroups": []string{"discovery.k8s.io"}, "resources": []string{"endpointslices"}, "verbs": []string{"list", "watch"}},
			}},
		obj{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": meta("system:coredns", labels),
			"roleRef":  obj{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
			"subjects": []obj{{"kind": "ServiceAccount", "name": "coredns", "namespace": Namespace}}},
		obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("coredns", labels), "data": obj{"Corefile": corefile}},
		obj{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("coredns", labels), "spec": obj{
			"replicas": in.Config.ReplicaCount,
			"selector": obj{"matchLabels": obj{"k8s-app": "kube-dns"}},
			"strategy": obj{"type": "RollingUpdate", "rollingUpdate": obj{"maxUnavailable": 1}},
			"template": obj{"metadata": obj{"labels": labels}, "spec": obj{
				"serviceAccountName": "coredns", "priorityClassName": "system-cluster-critical", "dnsPolicy": "Default",
				"tolerations": criticalTolerations,
				"containers": []obj{{
					"name": "coredns", "image": in.Version.Image(), "imagePullPolicy": "Never",
					"command":      []string{"/coredns", "-conf", "/etc/coredns/Corefile"},
					"ports":        []obj{port("dns", 53, "UDP"), port("dns-tcp", 53, "TCP"), port("metrics", 9153, "TCP")},
					"volumeMounts": []obj{{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": true}},
					"securityContext": obj{"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
						"capabilities": obj{"add": []string{"NET_BIND_SERVICE"}, "drop": []string{"ALL"}}},
					"livenessProbe":  obj{"httpGet": obj{"path": "/health", "port": 8080}, "initialDelaySeconds": 60, "timeoutSeconds": 5, "failureThreshold": 5},
					"readinessProbe": obj{"httpGet": obj{"path": "/ready", "port": 8181}},
					"resources":      obj{"requests": obj{"cpu": "100m", "memory": "70Mi"}, "limits": obj{"memory": "170Mi"}},
				}},
				"volumes": []obj{{"name": "config-volume", "configMap": obj{"name": "coredns", "items": []obj{{"key": "Corefile", "path": "Corefile"}}}}},
			}},
		}},
		obj{"apiVersion": "v1", "kind": "Service", "metadata": meta("kube-dns", obj{"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS", "eks.amazonaws.com/component": "kube-dns"}),
			"spec": obj{"clusterIP": DNSServiceIP(), "selector": obj{"k8s-app": "kube-dns"}, "ports": []obj{
				{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
				{"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
				{"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
			}}},
	}
}

// kubeProxy runs on every node (it tolerates every taint), privileged in
// the node's network namespace, where it writes the Services' rules and
// its sysctls. It leaves conntrack's table size alone (maxPerCore 0):
// nf_conntrack_max can be set only from the host's initial namespace and
// the hash size is host-wide, while each node is a namespace of its own on
// a shared host. NodePorts are on the node's address only (primary): on
// loopback they would need route_localnet on every interface of the node,
// whose 127/8 traffic is the cell's. It mounts no /lib/modules: it loads no module (the
// kernels here have netfilter built in) and a host without the directory
// would fail the container's mount.
func kubeProxy(in Input) []any {
	labels := obj{"k8s-app": "kube-proxy", "eks.amazonaws.com/component": "kube-proxy"}
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: default
  cluster:
    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
    server: %s
contexts:
- name: default
  context:
    cluster: default
    namespace: default
    user: default
current-context: default
users:
- name: default
  user:
    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token
`, in.APIServer)
	config := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: /var/lib/kube-proxy/kubeconfig
mode: %s
clusterCIDR: %s
conntrack:
  maxPerCore: 0
  min: 0
nodePortAddresses: [primary]
`, in.Config.Mode, addoncatalog.PodCIDR)
	hostPath := func(name, path, typ string) obj {
		return obj{"name": name, "hostPath": obj{"path": path, "type": typ}}
	}
	return []any{
		obj{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("kube-proxy", labels)},
		obj{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": meta("eks:kube-proxy", labels),
			"roleRef":  obj{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:node-proxier"},
			"subjects": []obj{{"kind": "ServiceAccount", "name": "kube-proxy", "namespace": Namespace}}},
		obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("kube-proxy", labels), "data": obj{"kubeconfig": kubeconfig}},
		obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("kube-proxy-config", labels), "data": obj{"config": config}},
		obj{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta("kube-proxy", labels), "spec": obj{
			"selector":       obj{"matchLabels": obj{"k8s-app": "kube-proxy"}},
			"updateStrategy": obj{"type": "RollingUpdate", "rollingUpdate": obj{"maxUnavailable": "10%"}},
			"template": obj{"metadata": obj{"labels": labels}, "spec": obj{
				"serviceAccountName": "kube-proxy", "priorityClassName": "system-node-critical", "hostNetwork": true,
				"tolerations": []obj{{"operator": "Exists"}},
				"containers": []obj{{
					"name": "kube-proxy", "image": in.Version.Image(), "imagePullPolicy": "Never",
					"command":         []string{"/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy-config/config", "--hostname-override=$(NODE_NAME)"},
					"env":             []obj{{"name": "NODE_NAME", "valueFrom": obj{"fieldRef": obj{"fieldPath": "spec.nodeName"}}}},
					"securityContext": obj{"privileged": true},
					"resources":       obj{"requests": obj{"cpu": "100m"}},
					"readinessProbe":  obj{"httpGet": obj{"host": "127.0.0.1", "path": "/healthz", "port": 10256}},
					"volumeMounts": []obj{
						{"name": "xtables-lock", "mountPath": "/run/xtables.lock"},
						{"name": "kubeconfig", "mountPath": "/var/lib/kube-proxy"},
						{"name": "config", "mountPath": "/var/lib/kube-proxy-config"},
					},
				}},
				"volumes": []obj{
					hostPath("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
					{"name": "kubeconfig", "configMap": obj{"name": "kube-proxy"}},
					{"name": "config", "configMap": obj{"name": "kube-proxy-config"}},
				},
			}},
		}},
	}
}
