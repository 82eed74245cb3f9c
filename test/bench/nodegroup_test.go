package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/kubeconfig"
	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/test/framework"
)

// Sizes of issue 14's hollow benchmark.
const (
	hollowNodes = 100
	hollowPods  = 1000
)

// Bounds of each wait: a run that cannot reach them is reported with how far
// it got, not retried with fewer nodes.
const (
	nodesReadyBound = 10 * time.Minute
	podsRunBound    = 10 * time.Minute
)

// BenchmarkHollowNodegroup measures issue 14's hollow half: CreateNodegroup of
// 100 CELLPLANE_HOLLOW nodes to 100 Nodes Ready (and to the group ACTIVE), then
// the start latency of 1,000 pods on them; and the same for 100 kubemark
// processes started by hand with the cell's flags and credentials against a
// second cluster of the same instance. Both clusters exist throughout, so both
// runs share one background; the runs go one after the other.
func BenchmarkHollowNodegroup(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 38*time.Minute)
	defer cancel()
	in := framework.NewInstance(b, bins)
	in.Start(ctx)
	var kcA, kcB string
	var wg sync.WaitGroup
	wg.Go(func() { kcA = activeCluster(ctx, b, in, "hollow-cp") })
	wg.Go(func() { kcB = activeCluster(ctx, b, in, "hollow-raw") })
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	sdk := benchSDKClient(b, in.DataDir)
	kubeA, kubeB := nodeClient(b, kcA), nodeClient(b, kcB)

	// (a) through cellplane.
	b.Logf("load before (a): %s", loadavg())
	cp := measureCellplane(ctx, b, sdk, kubeA, "hollow-cp")
	b.Logf("load after (a): %s", loadavg())

	// (b) by hand, once (a)'s nodes are gone.
	raw := measureByHand(ctx, b, in.DataDir, kcB, kubeB)
	b.Logf("load after (b): %s", loadavg())

	cp.report(b, "cellplane")
	raw.report(b, "byhand")
	if cp.ready > 0 && raw.ready > 0 {
		b.ReportMetric(cp.ready.Seconds()/raw.ready.Seconds(), "ratio-ready")
	}
	if cp.p50 > 0 && raw.p50 > 0 {
		b.ReportMetric(cp.p50.Seconds()/raw.p50.Seconds(), "ratio-pod-p50")
		b.ReportMetric(cp.p99.Seconds()/raw.p99.Seconds(), "ratio-pod-p99")
	}
	if cp.err != nil || raw.err != nil {
		b.Fatalf("cellplane run: %v; by-hand run: %v", cp.err, raw.err)
	}
}

// hollowRun is one run's figures; err says where it stopped if it did.
type hollowRun struct {
	ready, active, deleted time.Duration
	p50, p99, podsAll      time.Duration
	readyCount, running    int
	err                    error
}

func (r hollowRun) report(b *testing.B, name string) {
	b.ReportMetric(r.ready.Seconds(), name+"-ready-s")
	b.ReportMetric(float64(r.readyCount), name+"-nodes-ready")
	b.ReportMetric(ms(r.p50), name+"-pod-p50-ms")
	b.ReportMetric(ms(r.p99), name+"-pod-p99-ms")
	b.ReportMetric(r.podsAll.Seconds(), name+"-pods-all-s")
	b.Logf("%s: %d/%d nodes Ready in %v (group ACTIVE %v); %d/%d pods Running, all in %v, start p50 %v p99 %v; torn down in %v; err %v",
		name, r.readyCount, hollowNodes, r.ready.Round(time.Millisecond), r.active.Round(time.Millisecond), r.running, hollowPods,
		r.podsAll.Round(time.Millisecond), r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), r.deleted.Round(time.Millisecond), r.err)
}

func measureCellplane(ctx context.Context, b *testing.B, sdk *awseks.Client, kube kubernetes.Interface, cluster string) hollowRun {
	const group = "bench"
	var r hollowRun
	b.Cleanup(func() { deleteGroup(context.Background(), b, sdk, cluster, group) })
	start := time.Now()
	_, err := sdk.CreateNodegroup(ctx, &awseks.CreateNodegroupInput{
		ClusterName: aws.String(cluster), NodegroupName: aws.String(group), AmiType: types.AMITypes("CELLPLANE_HOLLOW"),
		Subnets: []string{"subnet-a", "subnet-b", "subnet-c"}, NodeRole: aws.String("arn:aws:iam::000000000000:role/node"),
		ScalingConfig: &types.NodegroupScalingConfig{MinSize: aws.Int32(hollowNodes), MaxSize: aws.Int32(hollowNodes), DesiredSize: aws.Int32(hollowNodes)},
		Labels:        map[string]string{"bench": "cellplane"},
	})
	if err != nil {
		b.Fatalf("CreateNodegroup: %v", err)
	}
	r.ready, r.readyCount, r.err = waitNodesReady(ctx, b, kube, "bench=cellplane", start)
	if r.err != nil {
		return r
	}
	err = framework.Eventually(ctx, nodesReadyBound, 100*time.Millisecond, func() error {
		out, err := sdk.DescribeNodegroup(ctx, &awseks.DescribeNodegroupInput{ClusterName: aws.String(cluster), NodegroupName: aws.String(group)})
		if err != nil {
			return err
		}
		if out.Nodegroup.Status != types.NodegroupStatusActive {
			return fmt.Errorf("node group is %s", out.Nodegroup.Status)
		}
		return nil
	})
	r.active = time.Since(start)
	if err != nil {
		r.err = fmt.Errorf("waiting for the group to be ACTIVE: %w", err)
		return r
	}
	r.p50, r.p99, r.podsAll, r.running, r.err = podStartLatency(ctx, b, kube, "bench-cp")
	start = time.Now()
	deletePods(ctx, b, kube, "bench-cp")
	deleteGroup(ctx, b, sdk, cluster, group)
	r.deleted = time.Since(start)
	return r
}

// deleteGroup deletes the node group and waits until it is gone.
func deleteGroup(ctx context.Context, b *testing.B, sdk *awseks.Client, cluster, group string) {
	err := framework.Eventually(ctx, 5*time.Minute, time.Second, func() error {
		_, err := sdk.DeleteNodegroup(ctx, &awseks.DeleteNodegroupInput{ClusterName: aws.String(cluster), NodegroupName: aws.String(group)})
		var apiErr smithy.APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.ErrorCode() == "ResourceNotFoundException":
			return nil
		case err != nil:
			return err
		}
		return fmt.Errorf("node group %s still deleting", group)
	})
	if err != nil {
		b.Errorf("deleting node group %s: %v", group, err)
	}
}

// waitNodesReady waits until hollowNodes Nodes of selector are Ready, and
// returns the time since start and how many were Ready at the end.
func waitNodesReady(ctx context.Context, b *testing.B, kube kubernetes.Interface, selector string, start time.Time) (time.Duration, int, error) {
	n := 0
	lastLog := time.Now()
	err := framework.Eventually(ctx, nodesReadyBound, 200*time.Millisecond, func() error {
		l, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		n = 0
		for _, node := range l.Items {
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					n++
				}
			}
		}
		if time.Since(lastLog) > 30*time.Second {
			b.Logf("%s: %d registered, %d Ready after %v; load %s", selector, len(l.Items), n, time.Since(start).Round(time.Second), loadavg())
			lastLog = time.Now()
		}
		if n < hollowNodes {
			return fmt.Errorf("%d of %d nodes %s Ready", n, hollowNodes, selector)
		}
		return nil
	})
	return time.Since(start), n, err
}

// podStartLatency creates a Deployment of hollowPods pods and follows them
// with a watch: a pod's start latency is from the watch first seeing it to
// the watch first seeing it Running, both on this process's clock
// (creationTimestamp has whole seconds only).
func podStartLatency(ctx context.Context, b *testing.B, kube kubernetes.Interface, name string) (p50, p99, all time.Duration, running int, err error) {
	labels := map[string]string{"app": name}
	sel := "app=" + name
	w, err := kube.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer func() { w.Stop() }()
	replicas := int32(hollowPods)
	zero := int64(0)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: &zero,
				Containers:                    []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}}}}}
	start := time.Now()
	if _, err := kube.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("creating deployment %s: %w", name, err)
	}
	seen := map[string]time.Time{}
	var lat []time.Duration
	done := map[string]bool{}
	lastRV, rewatches := "", 0
	bound := time.NewTimer(podsRunBound)
	defer bound.Stop()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for len(done) < hollowPods {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				// The API server ends watches it finds slow; the next
				// one goes on from the last event seen, so no event is
				// missed and no time is guessed.
				rewatches++
				if rewatches > 500 {
					return 0, 0, 0, len(done), fmt.Errorf("pod watch closed %d times with %d of %d Running", rewatches, len(done), hollowPods)
				}
				if w, err = kube.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: lastRV}); err != nil {
					return 0, 0, 0, len(done), fmt.Errorf("watching again from %s with %d of %d Running: %w", lastRV, len(done), hollowPods, err)
				}
				continue
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				if st, isStatus := ev.Object.(*metav1.Status); isStatus {
					return 0, 0, 0, len(done), fmt.Errorf("pod watch ended with %d of %d Running: %s", len(done), hollowPods, st.Message)
				}
				continue
			}
			lastRV = p.ResourceVersion
			now := time.Now()
			if _, ok := seen[p.Name]; !ok {
				seen[p.Name] = now
			}
			if p.Status.Phase == corev1.PodRunning && !done[p.Name] {
				done[p.Name] = true
				lat = append(lat, now.Sub(seen[p.Name]))
			}
		case <-tick.C:
			b.Logf("%s: %d pods seen, %d Running after %v; load %s", name, len(seen), len(done), time.Since(start).Round(time.Second), loadavg())
		case <-bound.C:
			return 0, 0, 0, len(done), fmt.Errorf("%d of %d pods Running after %v", len(done), hollowPods, podsRunBound)
		}
	}
	all = time.Since(start)
	b.Logf("%s: all %d pods Running in %v; the watch was resumed %d times", name, hollowPods, all.Round(time.Millisecond), rewatches)
	return percentile(lat, 50), percentile(lat, 99), all, len(done), nil
}

// deletePods deletes the Deployment and its pods at once (no grace): the
// teardown is not what is measured.
func deletePods(ctx context.Context, b *testing.B, kube kubernetes.Interface, name string) {
	bg := metav1.DeletePropagationBackground
	if err := kube.AppsV1().Deployments("default").Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		b.Logf("deleting deployment %s: %v", name, err)
	}
	zero := int64(0)
	sel := metav1.ListOptions{LabelSelector: "app=" + name}
	err := framework.Eventually(ctx, 3*time.Minute, 2*time.Second, func() error {
		if err := kube.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, sel); err != nil {
			return err
		}
		l, err := kube.CoreV1().Pods("default").List(ctx, sel)
		if err != nil {
			return err
		}
		if len(l.Items) > 0 {
			return fmt.Errorf("%d pods of %s left", len(l.Items), name)
		}
		return nil
	})
	if err != nil {
		b.Logf("deleting pods of %s: %v", name, err)
	}
}

// measureByHand starts hollowNodes kubemark processes directly, each with
// the flags, credential, kubeconfig and private /tmp the cell gives a hollow
// node (through the same hollow-node wrapper, which only makes the mount
// namespace and executes kubemark), against the cluster of kc.
func measureByHand(ctx context.Context, b *testing.B, dataDir, kc string, kube kubernetes.Interface) hollowRun {
	var r hollowRun
	adm, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		b.Fatal(err)
	}
	ctxName := adm.Contexts[adm.CurrentContext]
	server := adm.Clusters[ctxName.Cluster].Server
	pkiDir := clusterPKIDir(b, dataDir, adm.Clusters[ctxName.Cluster].CertificateAuthorityData)
	ca, err := pki.LoadCA(filepath.Join(pkiDir, "ca.crt"), filepath.Join(pkiDir, "ca.key"))
	if err != nil {
		b.Fatal(err)
	}
	bundle, err := os.ReadFile(filepath.Join(pkiDir, "ca-bundle.crt"))
	if err != nil {
		b.Fatal(err)
	}
	root := b.TempDir()
	nodes := make([]*exec.Cmd, 0, hollowNodes)
	waits := make([]chan struct{}, 0, hollowNodes)
	b.Cleanup(func() {
		for i, c := range nodes {
			_ = c.Process.Signal(syscall.SIGKILL)
			<-waits[i]
		}
	})
	zones := []string{"a", "b", "c"}
	ports := map[int]bool{}
	cmds := make([]*exec.Cmd, 0, hollowNodes)
	// Credentials, kubeconfigs and ports are ready before the clock starts,
	// as the cell's are written before its nodes start.
	for i := range hollowNodes {
		zone := zones[i%len(zones)]
		name := fmt.Sprintf("byhand-%s-%d", zone, i/len(zones))
		dir := filepath.Join(root, name)
		tmp := filepath.Join(dir, "tmp")
		if err := os.MkdirAll(tmp, 0o700); err != nil {
			b.Fatal(err)
		}
		certPEM, keyPEM, err := ca.Issue(pki.CertRequest{CommonName: "system:node:" + name, Organization: []string{"system:nodes"}, Usage: pki.Client})
		if err != nil {
			b.Fatal(err)
		}
		kcb, err := kubeconfig.Marshal(kubeconfig.Options{ClusterName: "hollow-raw", Server: server, User: "system:node:" + name,
			CAData: bundle, CertData: certPEM, KeyData: keyPEM})
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, "kubeconfig"), kcb, 0o600); err != nil {
			b.Fatal(err)
		}
		reg, err := json.Marshal(map[string]any{"labels": map[string]string{"bench": "byhand", "topology.kubernetes.io/zone": zone}})
		if err != nil {
			b.Fatal(err)
		}
		regPath := filepath.Join(dir, "registration.json")
		if err := os.WriteFile(regPath, reg, 0o600); err != nil {
			b.Fatal(err)
		}
		port := kubeletPort(b, ports)
		cmd := exec.Command(bins.Cellplane, "hollow-node", "--tmp", tmp, "--registration", regPath, "--",
			bins.Tools.Kubemark, "--morph=kubelet", "--use-host-image-service=false", "--name="+name,
			"--kubeconfig="+filepath.Join(tmp, "kubeconfig"), "--kubelet-port="+strconv.Itoa(port), "--kubelet-read-only-port=0",
			"--max-pods=110")
		logf, err := os.Create(filepath.Join(dir, "kubemark.log"))
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		b.Cleanup(func() { _ = logf.Close() })
		cmds = append(cmds, cmd)
	}
	start := time.Now()
	for _, cmd := range cmds {
		if err := cmd.Start(); err != nil {
			b.Fatalf("starting kubemark: %v", err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		nodes = append(nodes, cmd)
		waits = append(waits, done)
	}
	r.ready, r.readyCount, r.err = waitNodesReady(ctx, b, kube, "bench=byhand", start)
	r.active = r.ready
	if r.err != nil {
		return r
	}
	r.p50, r.p99, r.podsAll, r.running, r.err = podStartLatency(ctx, b, kube, "bench-raw")
	start = time.Now()
	deletePods(ctx, b, kube, "bench-raw")
	for i, c := range nodes {
		_ = c.Process.Signal(syscall.SIGKILL)
		<-waits[i]
	}
	nodes, waits = nil, nil
	r.deleted = time.Since(start)
	return r
}

// clusterPKIDir finds, under the instance's data directory, the PKI directory
// of the cluster whose CA bundle caData is.
func clusterPKIDir(b *testing.B, dataDir string, caData []byte) string {
	var found []string
	_ = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "ca.crt" || filepath.Base(filepath.Dir(path)) != "pki" {
			return nil
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(path), "ca.key")); err != nil {
			return nil
		}
		crt, err := os.ReadFile(path)
		if err == nil && bytes.Contains(caData, bytes.TrimSpace(crt)) {
			found = append(found, filepath.Dir(path))
		}
		return nil
	})
	if len(found) != 1 {
		b.Fatalf("PKI directories of the cluster: %v", found)
	}
	return found[0]
}

// kubeletPort picks a port below the ephemeral range that nothing listens
// on and no other node of the run has, as the cell does.
func kubeletPort(b *testing.B, taken map[int]bool) int {
	for range 1000 {
		p := 20000 + rand.IntN(12000)
		if taken[p] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", p))
		if err != nil {
			continue
		}
		_ = l.Close()
		taken[p] = true
		return p
	}
	b.Fatal("no free kubelet port")
	return 0
}

func nodeClient(b *testing.B, kc string) kubernetes.Interface {
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// benchSDKClient is the aws-sdk-go-v2 EKS client of the instance's generated
// profile.
func benchSDKClient(b *testing.B, dataDir string) *awseks.Client {
	ep, err := datadir.ReadEndpoint(dataDir)
	if err != nil {
		b.Fatal(err)
	}
	ca, err := os.ReadFile(ep.CAFile)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithCustomCABundle(bytes.NewReader(ca)),
		config.WithSharedConfigFiles([]string{datadir.AWSConfigFile(dataDir)}),
		config.WithSharedCredentialsFiles([]string{datadir.AWSCredentialsFile(dataDir)}),
		config.WithSharedConfigProfile(datadir.Profile))
	if err != nil {
		b.Fatalf("loading the generated profile: %v", err)
	}
	return awseks.NewFromConfig(cfg)
}

// loadavg is the machine's load average, for the record: other engineers'
// tests may share the two cores.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
