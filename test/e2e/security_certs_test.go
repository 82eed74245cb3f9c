package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/test/framework"
)

// Leaves live 90 s and renew 60 s before they expire (the shortest the cell
// accepts), so they renew every 30 s and the first ones expire about a
// minute after the cluster is ACTIVE.
const (
	testLeafLifetime    = 90 * time.Second
	testLeafRenewBefore = 60 * time.Second
)

// TestSecurityLeafCertificatesRollOverUnderLoad: with leaf certificates
// shortened to minutes, every API server's and etcd member's serving
// certificate is replaced, the controller managers and schedulers restart
// one at a time to load their new client certificates, and a controller
// manager still leads after the first certificates expired; clients doing
// GETs and LISTs through the endpoint all along see no failed request.
func TestSecurityLeafCertificatesRollOverUnderLoad(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	// No goaway: API servers close no connection by themselves, so what
	// handshakes with a renewed certificate does so because a client
	// reconnected (the load does every 200 requests) or a controller was
	// restarted to load its own.
	in.Args = []string{"--leaf-cert-lifetime", testLeafLifetime.String(), "--leaf-cert-renew-before", testLeafRenewBefore.String(),
		"--apiserver-goaway-chance", "0"}
	in.Start(ctx)
	cl := createActive(ctx, t, in, "rotate")
	kc := kubeconfig(ctx, t, in, "rotate")
	checkKubeconfigShortLived(t, kc)
	roots := clusterRoots(t, cl)

	servers := serverAddresses(t, describe(ctx, t, in, "rotate"))
	first := map[string]*x509.Certificate{}
	for name, addr := range servers {
		first[name] = servingCert(ctx, t, addr)
	}
	firstExpiry := earliestExpiry(first)
	controllers := controllerPIDs(clusterPIDs(ctx, t, in, "rotate"))
	load := startLoad(ctx, t, kc, 4)
	loadStart := time.Now()

	// Every serving certificate is replaced by one from the same CA that
	// lives the configured lifetime, and every controller restarted.
	err := framework.Eventually(ctx, 3*time.Minute, time.Second, func() error {
		for name, addr := range servers {
			cert, err := dialServingCert(ctx, addr)
			if err != nil {
				return err
			}
			if cert.SerialNumber.Cmp(first[name].SerialNumber) == 0 {
				return fmt.Errorf("%s still serves serial %x", name, cert.SerialNumber)
			}
			if err := verifies(cert, roots); err != nil {
				return fmt.Errorf("%s's renewed certificate: %w", name, err)
			}
		}
		return restartedAll(ctx, in, controllers)
	})
	if err != nil {
		t.Fatalf("certificates did not roll over: %v\n%s", err, in.Log())
	}
	t.Logf("every serving certificate replaced and every controller restarted %s into the load", time.Since(loadStart).Round(time.Second))
	// Well past the first certificates' expiry (longer than the 10 s a
	// leader may fail to renew before it gives up), the cluster still serves
	// and a controller manager still renews its lease: nothing runs on an
	// expired certificate.
	err = framework.Eventually(ctx, 2*time.Minute, time.Second, func() error {
		if wait := time.Until(firstExpiry.Add(15 * time.Second)); wait > 0 {
			return fmt.Errorf("first certificates expire in %s", wait.Round(time.Second))
		}
		return leading(ctx, load.cs, "kube-controller-manager")
	})
	if err != nil {
		t.Fatalf("after the first certificates expired: %v", err)
	}
	ok, failed, firstErr := load.stop()
	t.Logf("load: %d requests, %d failed; first certificates expired %s ago", ok, failed, time.Since(firstExpiry).Round(time.Second))
	if failed > 0 || ok < 1000 {
		t.Fatalf("%d of %d requests failed (first: %v); want none of at least 1000", failed, ok+failed, firstErr)
	}
	// Restarts count exits the cell did not ask for: a controller that ran
	// into its expired certificate and lost its lease would show here.
	cl = describe(ctx, t, in, "rotate")
	if cl.Status != "ACTIVE" {
		t.Fatalf("cluster is %s after the rollover", cl.Status)
	}
	for _, c := range cl.Cellplane.Components {
		if c.Restarts > 0 {
			t.Errorf("%s exited by itself %d times during the rollover", c.Name, c.Restarts)
		}
	}
}

// checkKubeconfigShortLived: the admin certificate `cluster kubeconfig` hands
// out lives 12 hours, not the year the cluster's own leaves would.
func checkKubeconfigShortLived(t *testing.T, path string) {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	user := cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo]
	block, _ := pem.Decode(user.ClientCertificateData)
	if block == nil {
		t.Fatal("kubeconfig has no client certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(cert.NotAfter); left > 12*time.Hour || left < 11*time.Hour {
		t.Errorf("kubeconfig certificate is valid for %s more, want about 12h", left.Round(time.Minute))
	}
}

func clusterRoots(t *testing.T, cl *eks.Cluster) *x509.CertPool {
	t.Helper()
	ca, err := base64.StdEncoding.DecodeString(cl.CertificateAuthority.Data)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("cluster reports no CA certificate")
	}
	return pool
}

// serverAddresses are the TLS servers of the cluster whose certificates
// rotate: both API servers and the three etcd members.
func serverAddresses(t *testing.T, cl *eks.Cluster) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range cl.Cellplane.Components {
		if strings.HasPrefix(c.Name, "kube-apiserver") || strings.HasPrefix(c.Name, "etcd") {
			out[c.Name] = c.Address
		}
	}
	if len(out) != 5 {
		t.Fatalf("want 2 API servers and 3 etcd members, got %v", out)
	}
	return out
}

func servingCert(ctx context.Context, t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	cert, err := dialServingCert(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// dialServingCert is the certificate addr presents to a new TLS client.
// etcd then asks for a client certificate and refuses the handshake; the
// server's certificate came before that.
func dialServingCert(ctx context.Context, addr string) (*x509.Certificate, error) {
	var got *x509.Certificate
	cfg := &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // the certificate is checked against the cluster CA by the caller
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no server certificate")
			}
			got = cs.PeerCertificates[0]
			return nil
		},
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		_ = conn.Close() // only the handshake mattered
	}
	if got == nil {
		return nil, fmt.Errorf("no certificate from %s: %w", addr, err)
	}
	return got, nil
}

func verifies(cert *x509.Certificate, roots *x509.CertPool) error {
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		// etcd's certificates chain to the etcd CA, which the cluster does
		// not publish; their lifetime is what matters here.
		if !errors.As(err, &x509.UnknownAuthorityError{}) {
			return err
		}
	}
	if life := cert.NotAfter.Sub(cert.NotBefore); life > testLeafLifetime+6*time.Minute {
		return fmt.Errorf("lives %s, want %s (and 5 minutes of backdating)", life, testLeafLifetime)
	}
	return nil
}

func earliestExpiry(certs map[string]*x509.Certificate) time.Time {
	var out time.Time
	for _, c := range certs {
		if out.IsZero() || c.NotAfter.Before(out) {
			out = c.NotAfter
		}
	}
	return out
}

// controllerPIDs keeps the controller managers and schedulers.
func controllerPIDs(pids map[string]int) map[string]int {
	out := map[string]int{}
	for name, pid := range pids {
		if strings.HasPrefix(name, "kube-controller-manager") || strings.HasPrefix(name, "kube-scheduler") {
			out[name] = pid
		}
	}
	return out
}

func restartedAll(ctx context.Context, in *framework.Instance, before map[string]int) error {
	cl, err := describeFull(ctx, in, "rotate")
	if err != nil {
		return err
	}
	now, err := pidsOf(cl)
	if err != nil {
		return err
	}
	for name, pid := range before {
		if now[name] == pid {
			return fmt.Errorf("%s (pid %d) not restarted yet", name, pid)
		}
	}
	return nil
}

// leading checks that name's lease is held and was renewed in the last 5 s
// (the controllers renew every 2 s).
func leading(ctx context.Context, cs kubernetes.Interface, name string) error {
	l, err := cs.CoordinationV1().Leases("kube-system").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" || l.Spec.RenewTime == nil {
		return fmt.Errorf("%s lease is not held", name)
	}
	if age := time.Since(l.Spec.RenewTime.Time); age > 5*time.Second {
		return fmt.Errorf("%s lease of %s last renewed %s ago", name, *l.Spec.HolderIdentity, age.Round(time.Second))
	}
	return nil
}

// load runs client-go clients that GET and LIST through the endpoint until
// stopped, each on a connection of its own that it replaces every
// reconnectEvery requests (so it handshakes with renewed serving
// certificates), and counts what failed.
type load struct {
	cs         kubernetes.Interface
	stopFn     func()
	wg         sync.WaitGroup
	ok, failed atomic.Int64
	mu         sync.Mutex
	firstErr   error
}

// maxLoadRequests bounds each client, so a test that hangs does not load the
// machine for ever.
const maxLoadRequests = 20000

const reconnectEvery = 200

func startLoad(ctx context.Context, t *testing.T, kc string, clients int) *load {
	t.Helper()
	ctx, stop := context.WithCancel(ctx)
	l := &load{stopFn: stop}
	t.Cleanup(func() { _, _, _ = l.stop() })
	cs, _, err := newClient(kc)
	if err != nil {
		t.Fatal(err)
	}
	l.cs = cs
	for range clients {
		l.wg.Go(func() { l.run(ctx, kc) })
	}
	return l
}

// newClient is a clientset on a connection of its own: client-go shares a
// transport between identical configs, and a Dial function of its own opts
// out.
func newClient(kc string) (*kubernetes.Clientset, *http.Client, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		return nil, nil, err
	}
	cfg.Dial = (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	cfg.QPS, cfg.Burst, cfg.Timeout = 200, 200, 10*time.Second
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfigAndClient(cfg, hc)
	return cs, hc, err
}

func (l *load) run(ctx context.Context, kc string) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var cs *kubernetes.Clientset
	var hc *http.Client
	for n := 0; n < maxLoadRequests; n++ {
		if n%reconnectEvery == 0 {
			if hc != nil {
				hc.CloseIdleConnections()
			}
			var err error
			if cs, hc, err = newClient(kc); err != nil {
				l.fail(err)
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var err error
		if n%2 == 0 {
			_, err = cs.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
		} else {
			_, err = cs.CoreV1().ConfigMaps("kube-system").List(ctx, metav1.ListOptions{Limit: 10})
		}
		switch {
		case err == nil:
			l.ok.Add(1)
		case ctx.Err() == nil:
			l.fail(err)
		}
	}
}

func (l *load) fail(err error) {
	l.failed.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.firstErr == nil {
		l.firstErr = fmt.Errorf("at %s: %w", time.Now().Format(time.TimeOnly), err)
	}
}

func (l *load) stop() (ok, failed int64, first error) {
	l.stopFn()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok.Load(), l.failed.Load(), l.firstErr
}
