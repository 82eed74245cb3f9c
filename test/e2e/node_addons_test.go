package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/cellplane/cellplane/internal/addoncatalog"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/nodes/csrapproval"
	"github.com/cellplane/cellplane/internal/nodes/images"
	"github.com/cellplane/cellplane/internal/nodes/machine"
	"github.com/cellplane/cellplane/test/framework"
)

// TestNodeAddons runs the default add-ons on one real machine: the cell
// applies kube-proxy and CoreDNS to a new cluster, the machine loads their
// images (built from the release's kube-proxy with the host's iptables,
// and the CoreDNS component), kube-proxy becomes Ready on the node and
// writes a Service's rules into the node's network namespace, and a pod on
// the node reaches a web server pod through the Service's ClusterIP.
// CoreDNS runs. Stopping the machine leaves nothing behind.
func TestNodeAddons(t *testing.T) {
	ctx := ctxFor(t)
	cache := components.New(components.Config{Progress: os.Stderr})
	nodeBins, err := cache.Node(ctx, components.Default())
	if err != nil {
		t.Fatal(err)
	}
	dnsBins, err := cache.CoreDNS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := framework.Shared(ctx, t, bins)
	sdk := sdkClient(t, in.DataDir)
	const name = "nodes-addons"
	endpoint, kc, cs, ca := handMadeCluster(ctx, t, in, sdk, name)

	bootKC := bootstrapKubeconfig(ctx, t, cs, endpoint, ca, "e2e node")
	ib := images.Builder{Dir: filepath.Join(t.TempDir(), "images")}
	built := time.Now()
	archives, err := ib.NodeArchives(ctx, nodeBins, dnsBins)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("node images ready in %s: %v", time.Since(built).Round(100*time.Millisecond), archives)

	cellPrefix, hostAddr, cellSource := nodeCellOf(t, endpoint)
	dir, err := os.MkdirTemp("", "cpn-")
	if err != nil {
		t.Fatal(err)
	}
	nodeName := fmt.Sprintf("addons-%d", os.Getpid()%100000)
	cfg := machine.Config{
		Name: nodeName, Dir: dir,
		Address: netip.MustParseAddr("10.250.0.3"), PodCIDR: netip.MustParsePrefix("10.244.250.0/24"),
		CellPrefix: cellPrefix, HostAddress: hostAddr, CellSource: cellSource,
		BootstrapKubeconfig: bootKC, ClientCA: ca, Kubelet: nodeBins.Kubelet,
		Images: archives, SandboxImage: images.Pause.Ref,
		Labels: map[string]string{"cellplane.io/test": "addons"},
		Log:    slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	if !netip.MustParsePrefix(addoncatalog.PodCIDR).Overlaps(cfg.PodCIDR) {
		t.Fatalf("the machine's pods %s are outside kube-proxy's clusterCIDR %s", cfg.PodCIDR, addoncatalog.PodCIDR)
	}
	m, err := machine.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("starting the machine: %v", err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			logMachine(t, dir)
			if err := m.Stop(); err != nil {
				t.Errorf("stopping the machine: %v", err)
			}
		}
	})
	startApprover(ctx, t, cs, csrapproval.Static{nodeName: {cfg.Address}})
	waitNodeReady(ctx, t, cs, nodeName, dir)

	// kube-proxy: the cell's DaemonSet runs on the node and is Ready (its
	// healthz answers, so it reached the API server from the node).
	proxy := waitAddonPod(ctx, t, cs, "k8s-app=kube-proxy", nodeName, true, dir)
	t.Logf("kube-proxy pod %s Ready on %s", proxy.Name, nodeName)

	// A web server and a Service in front of it.
	web := webPod(nodeName)
	if _, err := cs.CoreV1().Pods("default").Create(ctx, web, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	client := webPod(nodeName)
	client.Name, client.Labels = "client", map[string]string{"app": "client"}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, client, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := cs.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clusterIP := svc.Spec.ClusterIP
	for _, p := range []string{web.Name, client.Name} {
		waitPodRunning(ctx, t, cs, "default", p, dir)
	}

	// The Service's rules, in the node's namespace (read with the host's
	// iptables there; nothing is changed).
	netnsName := "cellplane-node-" + nodeName
	err = framework.Eventually(ctx, time.Minute, time.Second, func() error {
		rules, err := exec.CommandContext(ctx, "ip", "netns", "exec", netnsName, "iptables", "-t", "nat", "-S", "KUBE-SERVICES").CombinedOutput()
		if err != nil {
			return fmt.Errorf("iptables in %s: %w: %s", netnsName, err, rules)
		}
		for _, l := range strings.Split(string(rules), "\n") {
			if strings.Contains(l, "-d "+clusterIP+"/32") && strings.Contains(l, "default/web") && strings.Contains(l, "-j KUBE-SVC-") {
				return nil
			}
		}
		return fmt.Errorf("no rule for default/web at %s in KUBE-SERVICES:\n%s", clusterIP, rules)
	})
	if err != nil {
		logPod(ctx, t, kc, "kube-system", proxy.Name)
		t.Fatal(err)
	}

	// A pod on the node reaches the web server through the ClusterIP: its
	// packets go to the node, whose kube-proxy rules send them on to the
	// web server's pod. (The client runs in its pod's namespace: nothing is
	// dialled from the host.)
	err = framework.Eventually(ctx, time.Minute, 2*time.Second, func() error {
		got, err := kubectl(ctx, kc, "exec", client.Name, "--", "/webserver", "get", "http://"+clusterIP+"/via-service")
		if err != nil {
			return err
		}
		if got != "hello from web\n" {
			return fmt.Errorf("the Service answered %q", got)
		}
		return nil
	})
	if err != nil {
		logPod(ctx, t, kc, "kube-system", proxy.Name)
		t.Fatalf("GET the Service's ClusterIP from a pod: %v", err)
	}
	logs, err := kubectl(ctx, kc, "logs", web.Name)
	if err != nil || !strings.Contains(logs, `"/via-service"`) {
		t.Fatalf("the web server did not log the request through the Service: %q, %v", logs, err)
	}

	// CoreDNS: the cell's Deployment runs from its image on the node. It
	// is Ready only once it has listed the cluster's Services through the
	// kubernetes Service, which has no endpoint pods can reach yet; report
	// what it is.
	dns := waitAddonPod(ctx, t, cs, "k8s-app=kube-dns", nodeName, false, dir)
	t.Logf("CoreDNS pod %s Running, Ready=%v", dns.Name, podReady(dns))
	if got, err := kubectl(ctx, kc, "exec", client.Name, "--", "/webserver", "get", "http://web.default.svc.cluster.local/via-dns"); err != nil {
		t.Logf("by DNS name (not asserted): %v", err)
	} else {
		t.Logf("by DNS name (not asserted): %q", got)
	}
	// The cell reads the DaemonSet's health (every 15 s): the add-on is
	// ACTIVE now that its one node runs it.
	err = framework.Eventually(ctx, time.Minute, 2*time.Second, func() error {
		a, err := sdk.DescribeAddon(ctx, &awseks.DescribeAddonInput{ClusterName: aws.String(name), AddonName: aws.String(addoncatalog.KubeProxy)})
		if err != nil {
			return err
		}
		if a.Addon.Status != types.AddonStatusActive {
			return fmt.Errorf("kube-proxy add-on %s, health %+v", a.Addon.Status, a.Addon.Health)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := sdk.DescribeAddon(ctx, &awseks.DescribeAddonInput{ClusterName: aws.String(name), AddonName: aws.String(addoncatalog.CoreDNS)}); err == nil {
		t.Logf("coredns add-on %s (not asserted: its pods are not Ready)", a.Addon.Status)
	}

	// Mode nftables, the catalogue's other mode: the configuration changes
	// through UpdateAddon, the restarted kube-proxy writes the Service into
	// nf_tables with the image's nft, and the pod still reaches it.
	t.Run("nftables", func(t *testing.T) {
		_, err := sdk.UpdateAddon(ctx, &awseks.UpdateAddonInput{
			ClusterName: aws.String(name), AddonName: aws.String(addoncatalog.KubeProxy), ConfigurationValues: aws.String(`{"mode":"nftables"}`),
		})
		if err != nil {
			t.Fatalf("UpdateAddon: %v", err)
		}
		err = framework.Eventually(ctx, time.Minute, time.Second, func() error {
			cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "kube-proxy-config", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !strings.Contains(cm.Data["config"], "mode: nftables\n") {
				return fmt.Errorf("kube-proxy's configuration is still %q", cm.Data["config"])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.CoreV1().Pods("kube-system").Delete(ctx, proxy.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		var restarted *corev1.Pod
		err = framework.Eventually(ctx, 2*time.Minute, time.Second, func() error {
			restarted = waitAddonPod(ctx, t, cs, "k8s-app=kube-proxy", nodeName, true, dir)
			if restarted.Name == proxy.Name {
				return fmt.Errorf("kube-proxy pod %s not replaced yet", proxy.Name)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = framework.Eventually(ctx, time.Minute, time.Second, func() error {
			out, err := exec.CommandContext(ctx, "ip", "netns", "exec", netnsName, "nft", "list", "table", "ip", "kube-proxy").CombinedOutput()
			if err != nil {
				return fmt.Errorf("nft in %s: %w: %s", netnsName, err, out)
			}
			if !strings.Contains(string(out), clusterIP) {
				return fmt.Errorf("no element for %s in table ip kube-proxy:\n%s", clusterIP, out)
			}
			return nil
		})
		if err != nil {
			logPod(ctx, t, kc, "kube-system", restarted.Name)
			t.Fatal(err)
		}
		err = framework.Eventually(ctx, time.Minute, 2*time.Second, func() error {
			got, err := kubectl(ctx, kc, "exec", client.Name, "--", "/webserver", "get", "http://"+clusterIP+"/via-nftables")
			if err != nil {
				return err
			}
			if got != "hello from web\n" {
				return fmt.Errorf("the Service answered %q", got)
			}
			return nil
		})
		if err != nil {
			logPod(ctx, t, kc, "kube-system", restarted.Name)
			t.Fatalf("GET the ClusterIP through nftables rules: %v", err)
		}
		// The iptables rules of the first mode are gone.
		if out, err := exec.CommandContext(ctx, "ip", "netns", "exec", netnsName, "iptables", "-t", "nat", "-S", "KUBE-SERVICES").CombinedOutput(); err == nil {
			t.Errorf("iptables mode's rules outlived the switch to nftables:\n%s", out)
		}
	})

	pids := m.PIDs()
	stopped = true
	if err := m.Stop(); err != nil {
		t.Fatalf("stopping the machine: %v", err)
	}
	assertMachineGone(t, cfg, pids)
}

// waitAddonPod waits for a pod of the selector in kube-system on the node
// to run, and to be Ready when ready is set.
func waitAddonPod(ctx context.Context, t *testing.T, cs kubernetes.Interface, selector, node string, ready bool, dir string) *corev1.Pod {
	t.Helper()
	var found *corev1.Pod
	err := framework.Eventually(ctx, 3*time.Minute, time.Second, func() error {
		list, err := cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: selector, FieldSelector: "spec.nodeName=" + node})
		if err != nil {
			return err
		}
		var states []string
		for i := range list.Items {
			p := &list.Items[i]
			if p.Status.Phase == corev1.PodRunning && (!ready || podReady(p)) {
				found = p
				return nil
			}
			states = append(states, fmt.Sprintf("%s %s %+v", p.Name, p.Status.Phase, p.Status.ContainerStatuses))
		}
		return fmt.Errorf("no %s pod %s on %s: %v", selector, map[bool]string{true: "Ready", false: "Running"}[ready], node, states)
	})
	if err != nil {
		logMachine(t, dir)
		t.Fatal(err)
	}
	return found
}

func waitPodRunning(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name, dir string) {
	t.Helper()
	err := framework.Eventually(ctx, 3*time.Minute, time.Second, func() error {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("pod %s is %s (%+v)", name, p.Status.Phase, p.Status.ContainerStatuses)
		}
		return nil
	})
	if err != nil {
		logMachine(t, dir)
		t.Fatal(err)
	}
}

// logPod shows a pod's log when something failed.
func logPod(ctx context.Context, t *testing.T, kc, ns, name string) {
	out, err := kubectl(ctx, kc, "-n", ns, "logs", name, "--tail=60")
	t.Logf("logs of %s/%s (%v):\n%s", ns, name, err, out)
}
