package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/cell/agent"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/internal/region"
	regionapi "github.com/cellplane/cellplane/internal/region/api"
	"github.com/cellplane/cellplane/internal/runtime/process"
	"github.com/cellplane/cellplane/internal/sigv4"
	"github.com/cellplane/cellplane/internal/store"
	"github.com/cellplane/cellplane/test/framework"
)

// The region at scale. All clusters belong to one account: ListClusters reads and
// sorts every cluster of the caller's account, so that is its worst case.
const (
	scaleBlock      = "127.203"
	scaleClusters   = 10000
	scaleCells      = 10
	scaleWorkers    = 16 // concurrent CreateCluster callers, and status patchers
	describeCalls   = 2000
	describeCallers = 8
	listCalls       = 500
	listPage        = 100
	listWalks       = 10
)

// BenchmarkRegionAPIAtScale measures the regional API composed as the service
// composes it (real region store, informer cache, placement, SigV4, TLS), called
// through the official AWS SDK, with 10,000 cluster records: CreateCluster calls
// per second while filling the region, then DescribeCluster and ListClusters
// latency over the full region, and the memory the records cost.
//
// There are no real cells. A simulated runtime stands in for them: it heartbeats
// ten cells, so placement has somewhere to put clusters, and writes each
// cluster's status as a cell agent reports an ACTIVE cluster, so reads return
// full-size records. It runs once whatever b.N; use -benchtime 1x.
func BenchmarkRegionAPIAtScale(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	load := loadAverage()
	r := startScaleRegion(b, ctx)
	heapIdle := heapInuse()

	names := r.fill(b, ctx)
	filled := r.memory(b, heapIdle)
	r.simulateActive(b, ctx)
	active := r.memory(b, heapIdle)
	filled.log(b, "after the fill (records CREATING)")
	active.log(b, "with every record ACTIVE")
	active.report(b)

	r.benchDescribe(b, ctx, names)
	r.benchList(b, ctx)
	r.logHealth(b, load)
}

// scaleRegion is the regional API over a real region store, with a simulated
// runtime in place of cells.
type scaleRegion struct {
	dir     string
	block   ipam.Block
	log     *slog.Logger
	logPath string
	rt      *process.Runtime
	setup   client.Client // the simulated runtime's client, QPS raised
	cache   cache.Cache   // the API's view of the region store
	sdk     *awseks.Client
	account string
	proto   atomic.Value // HTTP protocol the SDK negotiated, e.g. "HTTP/2.0"
	wg      sync.WaitGroup

	beatFailures atomic.Int64
}

func startScaleRegion(b *testing.B, ctx context.Context) *scaleRegion {
	block, err := ipam.ParseBlock(scaleBlock, scaleCells)
	if err != nil {
		b.Fatal(err)
	}
	r := &scaleRegion{dir: b.TempDir(), block: block}
	r.openLog(b)
	st := r.startStore(b, ctx)
	sc := newBenchScheme(b)
	setupCfg := st.RESTConfig()
	setupCfg.QPS, setupCfg.Burst = 2000, 4000
	if r.setup, err = client.New(setupCfg, client.Options{Scheme: sc}); err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	b.Cleanup(func() { stop(); r.wg.Wait() })
	r.startCells(b, ctx, runCtx)
	r.serveAPI(b, ctx, runCtx, st, sc)
	return r
}

// openLog sends the runtime's and the API's log to a file, at the level the
// service logs at: one line per create, as in production.
func (r *scaleRegion) openLog(b *testing.B) {
	r.logPath = filepath.Join(r.dir, "region.log")
	f, err := os.Create(r.logPath)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	r.log = slog.New(slog.NewTextHandler(f, nil))
	// The cache logs through controller-runtime's global logger, which otherwise
	// complains on stderr that it was never set.
	ctrllog.SetLogger(logr.FromSlogHandler(r.log.Handler()))
}

// startStore starts the region store. Its processes are stopped in cleanup,
// registered before they start so a store that fails half-way is stopped too.
func (r *scaleRegion) startStore(b *testing.B, ctx context.Context) *store.Store {
	r.rt = process.New(process.Options{Logger: r.log})
	cfg := store.Config{
		Name: "region", Dir: filepath.Join(r.dir, "store"), IP: r.block.RegionIP(),
		Etcd: bins.Etcd.Etcd, APIServer: bins.Kubernetes.KubeAPIServer, Runner: r.rt,
	}
	var st *store.Store
	b.Cleanup(func() { r.stopStore(b, st, cfg) })
	st, err := store.Start(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// stopStore stops the store with Store.Stop, or, when Start failed and there is
// no Store, by the pid files Start left (the runtime's Stop needs nothing else).
func (r *scaleRegion) stopStore(b *testing.B, st *store.Store, cfg store.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	defer r.rt.Close()
	if st != nil {
		if err := st.Stop(ctx); err != nil {
			b.Errorf("stopping the region store: %v", err)
		}
		return
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		spec := process.Spec{ID: cfg.Name + "/" + name, Name: name, StateDir: filepath.Join(cfg.Dir, "logs")}
		if err := r.rt.Stop(ctx, spec); err != nil {
			b.Errorf("stopping %s: %v", spec.ID, err)
		}
	}
}

func newBenchScheme(b *testing.B) *k8sruntime.Scheme {
	sc := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(sc); err != nil {
		b.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(sc); err != nil {
		b.Fatal(err)
	}
	return sc
}

// cellCapacity is exactly a tenth of the clusters: the fill must fit with no
// headroom (an earlier Placer counted stored-but-pending clusters twice and
// refused the last creates; TestPlaceDoesNotCountStoredPendingTwice).
const cellCapacity = scaleClusters / scaleCells

// startCells registers the cells and heartbeats them as their controllers would
// until runCtx ends.
func (r *scaleRegion) startCells(b *testing.B, ctx, runCtx context.Context) {
	for k := 1; k <= scaleCells; k++ {
		c := &v1alpha1.Cell{
			ObjectMeta: metav1.ObjectMeta{Name: cellName(k)},
			Spec:       v1alpha1.CellSpec{Capacity: cellCapacity},
		}
		if err := r.setup.Create(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	if err := r.beat(ctx); err != nil {
		b.Fatal(err)
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.heartbeat(runCtx)
	}()
}

func cellName(k int) string { return fmt.Sprintf("cell-%d", k) }

// heartbeat beats every agent.HeartbeatInterval. Failures are counted, not fatal:
// placement refuses creates once a beat is stale, which fails the fill anyway.
func (r *scaleRegion) heartbeat(ctx context.Context) {
	t := time.NewTicker(agent.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.beat(ctx); err != nil && ctx.Err() == nil {
			r.beatFailures.Add(1)
			r.log.Warn("simulated heartbeat failed", "err", err)
		}
	}
}

// beat merge-patches every cell's status with a fresh heartbeat, as agent.Heartbeat does.
func (r *scaleRegion) beat(ctx context.Context) error {
	now := metav1.Now()
	body, err := json.Marshal(map[string]v1alpha1.CellStatus{"status": {HeartbeatTime: &now}})
	if err != nil {
		return err
	}
	for k := 1; k <= scaleCells; k++ {
		c := &v1alpha1.Cell{ObjectMeta: metav1.ObjectMeta{Name: cellName(k)}}
		if err := r.setup.Status().Patch(ctx, c, client.RawPatch(types.MergePatchType, body)); err != nil {
			return fmt.Errorf("heartbeat of %s: %w", c.Name, err)
		}
	}
	return nil
}

// serveAPI composes the handler as region.Service.serveAPI does (the store client keeps
// the service's QPS limits), creates the benchmark's account and serves the API
// over TLS on the region's address.
func (r *scaleRegion) serveAPI(b *testing.B, ctx, runCtx context.Context, st *store.Store, sc *k8sruntime.Scheme) {
	cl, err := client.New(st.RESTConfig(), client.Options{Scheme: sc})
	if err != nil {
		b.Fatal(err)
	}
	key, err := account.LoadOrCreateMasterKey(filepath.Join(r.dir, "keys", "master.key"))
	if err != nil {
		b.Fatal(err)
	}
	accounts := &account.Store{Client: cl, Key: key}
	acct, access, err := accounts.CreateAccount(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	r.account = acct.ID
	// Every cluster is the benchmark's account's: raise its cluster limit
	// (100 by default) as an operator would with 'cellplane account limit'.
	err = r.setup.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:        v1alpha1.Namespace(acct.ID),
		Labels:      map[string]string{v1alpha1.LabelAccount: acct.ID},
		Annotations: map[string]string{v1alpha1.AnnotationMaxClusters: fmt.Sprint(scaleClusters)},
	}})
	if err != nil {
		b.Fatal(err)
	}
	// The verified-key cache, as the region runs it: a signed request reads
	// its key from the store once, not on every call.
	keys, err := region.CachedKeys(runCtx, st.RESTConfig(), accounts)
	if err != nil {
		b.Fatal(err)
	}
	api, err := region.NewRegionAPI(st.RESTConfig(), &sigv4.Verifier{Keys: keys}, r.log)
	if err != nil {
		b.Fatal(err)
	}
	r.wg.Add(1)
	err = api.Start(ctx, runCtx, func(err error) {
		defer r.wg.Done()
		if err != nil {
			r.log.Error("region cache stopped", "err", err)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	r.cache = api.Cache
	url, caFile := r.listenTLS(b, r.noteProto(api.Handler))
	r.sdk = newBenchSDK(b, url, caFile, access)
}

func (r *scaleRegion) noteProto(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.proto.Store(req.Proto)
		h.ServeHTTP(w, req)
	})
}

// listenTLS serves h with a CA of its own, as region.Service.listenTLS does, and
// returns the URL and the CA file.
func (r *scaleRegion) listenTLS(b *testing.B, h http.Handler) (string, string) {
	dir := filepath.Join(r.dir, "api")
	ip := r.block.RegionIP()
	ca, _, err := pki.EnsureCA(dir, "ca", "cellplane benchmark regional API CA")
	if err != nil {
		b.Fatal(err)
	}
	req := pki.CertRequest{CommonName: "cellplane-region", IPs: []net.IP{ip}, Usage: pki.Server}
	if _, err := pki.EnsurePair(dir, "server", ca, req); err != nil {
		b.Fatal(err)
	}
	addr := ipam.HostPort(ip, ipam.RegionAPIPort)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		err := srv.ServeTLS(ln, filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
		if !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("regional API stopped", "err", err)
		}
	}()
	b.Cleanup(func() { srv.Close() })
	return "https://" + addr, filepath.Join(dir, "ca.crt")
}

// newBenchSDK is the official EKS client with the account's key. It keeps the
// SDK's own HTTP client (which negotiates HTTP/2, so the workers share one
// connection) with room for 64 idle HTTP/1.1 connections should it not. Retries
// are off: every timed call is exactly one request, and the first failure fails
// the benchmark instead of hiding in a retry.
func newBenchSDK(b *testing.B, url, caFile string, key account.AccessKey) *awseks.Client {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		b.Fatalf("no certificate in %s", caFile)
	}
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.TLSClientConfig.RootCAs = pool
		t.MaxIdleConnsPerHost = 64
	})
	cfg := aws.Config{
		Region:      regionapi.DefaultRegion,
		Credentials: credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, ""),
		HTTPClient:  httpClient,
	}
	return awseks.NewFromConfig(cfg, func(o *awseks.Options) {
		o.BaseEndpoint = aws.String(url)
		o.Retryer = aws.NopRetryer{}
	})
}

// fill creates every cluster through the SDK with scaleWorkers callers and
// reports calls per second and latency. It returns the names.
func (r *scaleRegion) fill(b *testing.B, ctx context.Context) []string {
	names := make([]string, scaleClusters)
	for i := range names {
		names[i] = fmt.Sprintf("bench-%05d", i+1)
	}
	version := components.Default().Minor
	lat, wall, err := timedCalls(ctx, scaleWorkers, len(names), func(ctx context.Context, i int, _ *mathrand.Rand) error {
		_, err := r.sdk.CreateCluster(ctx, &awseks.CreateClusterInput{
			Name: aws.String(names[i]), Version: aws.String(version),
			RoleArn:            aws.String("arn:aws:iam::000000000000:role/eks"),
			ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{"subnet-a", "subnet-b"}},
		})
		return wrapCall(err, "CreateCluster %s", names[i])
	})
	if err != nil {
		b.Fatal(err)
	}
	rate := float64(len(names)) / wall.Seconds()
	b.ReportMetric(rate, "create/s")
	b.Logf("CreateCluster: %d clusters in %s from %d callers, %.1f calls/s; %s (SDK over %v)",
		len(names), wall.Round(time.Millisecond), scaleWorkers, rate, reportLatency(b, "create", lat), r.proto.Load())
	return names
}

func wrapCall(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
}

// simulateActive is the simulated cell agent: it patches every cluster's status
// to what a cell reports for an ACTIVE cluster. Setup, not measured.
func (r *scaleRegion) simulateActive(b *testing.B, ctx context.Context) {
	start := time.Now()
	var list v1alpha1.ClusterList
	if err := r.setup.List(ctx, &list, client.InNamespace(v1alpha1.Namespace(r.account))); err != nil {
		b.Fatal(err)
	}
	if len(list.Items) != scaleClusters {
		b.Fatalf("the region store holds %d clusters; want %d", len(list.Items), scaleClusters)
	}
	clusters := list.Items
	sort.Slice(clusters, func(i, j int) bool { return clusters[i].Name < clusters[j].Name })
	slots := map[string]int{} // next slot of each cell
	bodies := make([][]byte, len(clusters))
	ca := fakeCAData(b)
	now := metav1.Now()
	for i := range clusters {
		c := &clusters[i]
		var k int
		if _, err := fmt.Sscanf(c.Spec.Cell, "cell-%d", &k); err != nil {
			b.Fatalf("cluster %s placed in %q: %v", c.Spec.Name, c.Spec.Cell, err)
		}
		body, err := json.Marshal(map[string]v1alpha1.ClusterStatus{"status": activeStatus(r.block.Cell(k), slots[c.Spec.Cell], c.Generation, ca, now)})
		if err != nil {
			b.Fatal(err)
		}
		slots[c.Spec.Cell]++
		bodies[i] = body
	}
	_, wall, err := timedCalls(ctx, scaleWorkers, len(clusters), func(ctx context.Context, i int, _ *mathrand.Rand) error {
		obj := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: clusters[i].Namespace, Name: clusters[i].Name}}
		return wrapCall(r.setup.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, bodies[i])), "patching status of %s", obj.Name)
	})
	if err != nil {
		b.Fatal(err)
	}
	settle := r.awaitActive(b, ctx)
	b.Logf("simulated agent: %d statuses patched in %s (%.0f/s, %s with the listing), all ACTIVE in the API's cache %s later; clusters per cell %v",
		len(clusters), wall.Round(time.Millisecond), float64(len(clusters))/wall.Seconds(), time.Since(start).Round(time.Millisecond),
		settle.Round(time.Millisecond), slots)
}

// members are a control plane's processes as the cell reports them: etcd in
// three zones, the others in two. kind is the ipam member kind.
var members = []struct {
	name string
	zone int
	kind int
	port int
}{
	{"etcd-a", 0, 0, ipam.EtcdClientPort}, {"etcd-b", 1, 0, ipam.EtcdClientPort}, {"etcd-c", 2, 0, ipam.EtcdClientPort},
	{"kube-apiserver-a", 0, 1, ipam.APIServerPort}, {"kube-apiserver-b", 1, 1, ipam.APIServerPort},
	{"kube-controller-manager-a", 0, 2, ipam.ControllerManagerPort}, {"kube-controller-manager-b", 1, 2, ipam.ControllerManagerPort},
	{"kube-scheduler-a", 0, 3, ipam.SchedulerPort}, {"kube-scheduler-b", 1, 3, ipam.SchedulerPort},
}

var conditionTypes = []struct{ typ, reason string }{
	{v1alpha1.ConditionPKIReady, "Issued"}, {v1alpha1.ConditionEtcdReady, "Healthy"},
	{v1alpha1.ConditionAPIServersReady, "Healthy"}, {v1alpha1.ConditionControllersReady, "Healthy"},
	{v1alpha1.ConditionEndpointReady, "Serving"}, {v1alpha1.ConditionReady, "Ready"},
}

// activeStatus is the status a cell reports for a healthy cluster in slot.
func activeStatus(plan ipam.Cell, slot int, generation int64, ca string, now metav1.Time) v1alpha1.ClusterStatus {
	s := int32(slot) //nolint:gosec // G115: slots are below ipam.MaxSlots
	st := v1alpha1.ClusterStatus{
		Status:                   v1alpha1.StatusActive,
		Slot:                     &s,
		Endpoint:                 "https://" + ipam.HostPort(plan.EndpointIP(slot), ipam.EndpointPort),
		CertificateAuthorityData: ca,
		KubernetesVersion:        components.Default().Version,
		ActiveAt:                 &now,
		ObservedGeneration:       generation,
	}
	for i, m := range members {
		st.Components = append(st.Components, v1alpha1.ComponentStatus{
			Name: m.name, Zone: ipam.Zones[m.zone], Address: ipam.HostPort(plan.MemberIP(m.zone, slot, m.kind), m.port),
			PID: 100000 + slot*len(members) + i, Ready: true,
		})
	}
	for _, c := range conditionTypes {
		st.Conditions = append(st.Conditions, metav1.Condition{
			Type: c.typ, Status: metav1.ConditionTrue, Reason: c.reason, ObservedGeneration: generation, LastTransitionTime: now,
		})
	}
	return st
}

// fakeCAData is shaped like a real CA certificate's data: base64 of a PEM
// block, about 1 KB.
func fakeCAData(b *testing.B) string {
	der := make([]byte, 560)
	if _, err := rand.Read(der); err != nil {
		b.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// awaitActive waits until the API's cache shows every cluster ACTIVE and
// returns how long that took.
func (r *scaleRegion) awaitActive(b *testing.B, ctx context.Context) time.Duration {
	start := time.Now()
	err := framework.Eventually(ctx, 5*time.Minute, 200*time.Millisecond, func() error {
		var list v1alpha1.ClusterList
		if err := r.cache.List(ctx, &list, client.InNamespace(v1alpha1.Namespace(r.account)), client.UnsafeDisableDeepCopy); err != nil {
			return err
		}
		active := 0
		for i := range list.Items {
			if list.Items[i].Status.Status == v1alpha1.StatusActive {
				active++
			}
		}
		if active != scaleClusters {
			return fmt.Errorf("the API's cache shows %d of %d clusters ACTIVE", active, scaleClusters)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// benchDescribe times DescribeCluster on random names, sequentially and then
// from describeCallers callers at once. Every answer must be the full ACTIVE record.
func (r *scaleRegion) benchDescribe(b *testing.B, ctx context.Context, names []string) {
	describe := func(ctx context.Context, _ int, rng *mathrand.Rand) error {
		name := names[rng.IntN(len(names))]
		out, err := r.sdk.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String(name)})
		if err != nil {
			return fmt.Errorf("DescribeCluster %s: %w", name, err)
		}
		if status, ca := describedAs(out.Cluster); status != ekstypes.ClusterStatusActive || len(ca) < 1000 {
			return fmt.Errorf("DescribeCluster %s: status %q, %d bytes of CA data", name, status, len(ca))
		}
		return nil
	}
	for _, callers := range []int{1, describeCallers} {
		lat, wall, err := timedCalls(ctx, callers, describeCalls, describe)
		if err != nil {
			b.Fatal(err)
		}
		label := fmt.Sprintf("describe-%dx", callers)
		rate := float64(len(lat)) / wall.Seconds()
		b.ReportMetric(rate, label+"-calls/s")
		b.Logf("DescribeCluster, %d caller(s): %d calls in %s, %.0f calls/s; %s",
			callers, len(lat), wall.Round(time.Millisecond), rate, reportLatency(b, label, lat))
	}
}

// describedAs returns a described cluster's status and CA data.
func describedAs(c *ekstypes.Cluster) (ekstypes.ClusterStatus, string) {
	if c == nil || c.CertificateAuthority == nil {
		return "", ""
	}
	return c.Status, aws.ToString(c.CertificateAuthority.Data)
}

// benchList walks every page once to collect the page tokens, times single
// pages at random positions, then full walks.
func (r *scaleRegion) benchList(b *testing.B, ctx context.Context) {
	tokens, _, err := r.walk(ctx)
	if err != nil {
		b.Fatal(err)
	}
	lat, _, err := timedCalls(ctx, 1, listCalls, func(ctx context.Context, _ int, rng *mathrand.Rand) error {
		token := tokens[rng.IntN(len(tokens))]
		out, err := r.sdk.ListClusters(ctx, &awseks.ListClustersInput{MaxResults: aws.Int32(listPage), NextToken: token})
		if err != nil {
			return fmt.Errorf("ListClusters: %w", err)
		}
		if len(out.Clusters) != listPage {
			return fmt.Errorf("ListClusters returned %d clusters; want %d", len(out.Clusters), listPage)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("ListClusters, one page of %d at a random position: %s", listPage, reportLatency(b, "list", lat))
	walks := make([]time.Duration, listWalks)
	for i := range walks {
		if _, walks[i], err = r.walk(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(percentile(walks, 50).Seconds(), "list-walk-p50-s")
	b.ReportMetric(slices.Max(walks).Seconds(), "list-walk-max-s")
	b.Logf("ListClusters full walk (%d pages of %d): %v", len(tokens), listPage, roundAll(walks))
}

// walk lists every page of the account's clusters, checking that each cluster
// comes exactly once, and returns each page's token (nil for the first).
func (r *scaleRegion) walk(ctx context.Context) ([]*string, time.Duration, error) {
	start := time.Now()
	tokens := []*string{nil}
	seen := 0
	var last string
	for {
		out, err := r.sdk.ListClusters(ctx, &awseks.ListClustersInput{MaxResults: aws.Int32(listPage), NextToken: tokens[len(tokens)-1]})
		if err != nil {
			return nil, 0, fmt.Errorf("ListClusters page %d: %w", len(tokens), err)
		}
		for _, n := range out.Clusters {
			if n <= last {
				return nil, 0, fmt.Errorf("ListClusters page %d: %s after %s", len(tokens), n, last)
			}
			last = n
		}
		seen += len(out.Clusters)
		if out.NextToken == nil {
			break
		}
		tokens = append(tokens, out.NextToken)
	}
	if seen != scaleClusters {
		return nil, 0, fmt.Errorf("ListClusters walked %d clusters; want %d", seen, scaleClusters)
	}
	return tokens, time.Since(start), nil
}

// timedCalls makes n calls, call(ctx, i, rng) for i in [0, n), from callers
// goroutines at once, and returns each call's latency and the wall time. The
// first error stops the calls and is returned.
func timedCalls(ctx context.Context, callers, n int, call func(context.Context, int, *mathrand.Rand) error) ([]time.Duration, time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mathrand.New(mathrand.NewPCG(uint64(g), uint64(n))) //nolint:gosec // G115: a goroutine index and a count, both small and non-negative, as seeds
			for i := int(next.Add(1)) - 1; i < n && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				t := time.Now()
				err := call(ctx, i, rng)
				lat[i] = time.Since(t)
				if err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return nil, 0, err
	}
	return lat, wall, nil
}

// reportLatency reports p50 and p99 as metrics and returns them, with the
// maximum, in words for the log.
func reportLatency(b *testing.B, name string, lat []time.Duration) string {
	p50, p99 := percentile(lat, 50), percentile(lat, 99)
	b.ReportMetric(ms(p50), name+"-p50-ms")
	b.ReportMetric(ms(p99), name+"-p99-ms")
	return fmt.Sprintf("p50 %s, p99 %s, max %s over %d calls", p50.Round(time.Microsecond), p99.Round(time.Microsecond),
		slices.Max(lat).Round(time.Microsecond), len(lat))
}

// percentile is the nearest-rank percentile p of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100
	return s[max(rank-1, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// regionMemory is what the region's records cost: the store's processes and the
// API's cache (this process's heap growth since before the fill).
type regionMemory struct {
	apiServer, etcd, ownRSS int64
	cacheHeap               int64
}

func (r *scaleRegion) memory(b *testing.B, heapIdle uint64) regionMemory {
	return regionMemory{
		apiServer: r.rss(b, "region/kube-apiserver"),
		etcd:      r.rss(b, "region/etcd"),
		ownRSS:    pidRSS(b, os.Getpid()),
		cacheHeap: int64(heapInuse()) - int64(heapIdle), //nolint:gosec // G115: heap sizes are far below 2^63
	}
}

func (r *scaleRegion) rss(b *testing.B, id string) int64 {
	st, ok := r.rt.Status(id)
	if !ok {
		b.Fatalf("the runtime does not supervise %s", id)
	}
	return pidRSS(b, st.PID)
}

func pidRSS(b *testing.B, pid int) int64 {
	rss, err := framework.RSS(pid)
	if err != nil {
		b.Fatal(err)
	}
	return rss
}

// heapInuse is this process's live heap after a collection.
func heapInuse() uint64 {
	goruntime.GC()
	var m goruntime.MemStats
	goruntime.ReadMemStats(&m)
	return m.HeapInuse
}

func (m regionMemory) log(b *testing.B, when string) {
	b.Logf("memory %s: kube-apiserver %d MB, etcd %d MB, API cache heap +%d MB, benchmark process RSS %d MB",
		when, m.apiServer>>20, m.etcd>>20, m.cacheHeap>>20, m.ownRSS>>20)
}

func (m regionMemory) report(b *testing.B) {
	b.ReportMetric(float64(m.apiServer)/(1<<20), "apiserver-MB")
	b.ReportMetric(float64(m.etcd)/(1<<20), "etcd-MB")
	b.ReportMetric(float64(m.cacheHeap)/(1<<20), "cache-heap-MB")
	b.ReportMetric(float64(m.ownRSS)/(1<<20), "bench-RSS-MB")
}

// logHealth reports what may have skewed the figures without failing a call:
// missed heartbeats, warnings in the API's log (a create that outran the cache
// logs one) and the machine's load, since other work shares its cores.
func (r *scaleRegion) logHealth(b *testing.B, loadBefore string) {
	data, err := os.ReadFile(r.logPath)
	if err != nil {
		b.Fatal(err)
	}
	warnings := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte("level=WARN")) && !bytes.Contains(line, []byte("level=ERROR")) {
			continue
		}
		msg := line
		if i := bytes.Index(line, []byte("msg=")); i >= 0 {
			msg = line[i:min(len(line), i+70)]
		}
		warnings[string(msg)]++
	}
	b.Logf("failed heartbeats: %d; warnings and errors in the API log: %v; load average before %s, after %s",
		r.beatFailures.Load(), warnings, loadBefore, loadAverage())
}

// loadAverage is the 1, 5 and 15 minute load averages, "?" where unknown.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}
