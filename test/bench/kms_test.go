package bench

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	kmsapi "k8s.io/kms/apis/v2"

	"github.com/cellplane/cellplane/internal/kms/keyset"
	"github.com/cellplane/cellplane/internal/kms/plugin"
	"github.com/cellplane/cellplane/internal/poll"
	"github.com/cellplane/cellplane/test/framework"
)

// BenchmarkKMSPlugin measures what a cluster's KMS plugin costs: the real
// `cellplane kms-plugin` process, called over its unix socket by upstream's
// gRPC client as kube-apiserver calls it. It reports the plugin's resident
// memory and idle CPU (two run per cluster), and the latency of Encrypt and
// Decrypt of a 32-byte data-key seed, which an API server pays once per new
// data key, not per Secret.
func BenchmarkKMSPlugin(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sock := filepath.Join(b.TempDir(), "kms-plugin-a.sock")
	enc, err := plugin.EncodeKeyset(keyset.New())
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bins.Cellplane, "kms-plugin", "--socket="+sock)
	cmd.Env = []string{plugin.KeysetEnv + "=" + enc}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	conn, err := grpc.NewClient("passthrough:///kms", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return plugin.Dial(ctx, sock) }))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	c := kmsapi.NewKeyManagementServiceClient(conn)
	err = poll.Until(ctx, 30*time.Second, 50*time.Millisecond, func() error {
		_, err := c.Status(ctx, &kmsapi.StatusRequest{})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}

	// Idle: kube-apiserver calls Status once a minute while healthy.
	const idleFor = 20 * time.Second
	t0 := cpuTicks(b, cmd.Process.Pid)
	time.Sleep(idleFor) //nolint:forbidigo // measuring idle CPU is waiting by definition
	idleCPU := float64(cpuTicks(b, cmd.Process.Pid)-t0) / 100 / idleFor.Seconds() * 100
	rss, err := framework.RSS(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}

	seed := []byte("0123456789abcdef0123456789abcdef")
	const calls = 2000
	var encLat, decLat []time.Duration
	for i := range calls {
		start := time.Now()
		er, err := c.Encrypt(ctx, &kmsapi.EncryptRequest{Plaintext: seed, Uid: strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		encLat = append(encLat, time.Since(start))
		start = time.Now()
		if _, err := c.Decrypt(ctx, &kmsapi.DecryptRequest{Ciphertext: er.Ciphertext, KeyId: er.KeyId, Uid: strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
		decLat = append(decLat, time.Since(start))
	}
	b.ReportMetric(float64(rss)/(1<<20), "plugin-RSS-MB")
	b.ReportMetric(idleCPU, "plugin-idle-%cpu")
	b.Logf("plugin RSS %d MB, idle CPU %.2f%% of a core over %s", rss>>20, idleCPU, idleFor)
	b.Logf("Encrypt: %s", reportLatency(b, "encrypt", encLat))
	b.Logf("Decrypt: %s", reportLatency(b, "decrypt", decLat))
}

// cpuTicks is the user and system time of pid, in clock ticks (1/100 s).
func cpuTicks(b *testing.B, pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}
