package images

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/cellplane/cellplane/internal/poll"
)

// Both images build, name themselves for containerd, start their binary,
// and a second build is the cached archive.
func TestArchive(t *testing.T) {
	ctx := context.Background()
	b := Builder{Dir: t.TempDir()}
	for _, img := range []Image{Pause, WebServer} {
		path, err := b.Archive(ctx, img)
		if err != nil {
			t.Fatal(err)
		}
		again, err := b.Archive(ctx, img)
		if err != nil || again != path {
			t.Fatalf("second build: %s, %v; want the cached %s", again, err, path)
		}
		dir := untar(t, path)
		idx, err := layout.ImageIndexFromPath(dir)
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil || len(im.Manifests) != 1 {
			t.Fatalf("index: %+v, %v", im, err)
		}
		desc := im.Manifests[0]
		if desc.Annotations["io.containerd.image.name"] != img.Ref || desc.Platform == nil || desc.Platform.OS != "linux" {
			t.Errorf("%s: descriptor %+v lacks its name or platform", img.Ref, desc)
		}
		image, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := image.ConfigFile()
		if err != nil || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != img.entrypoint {
			t.Fatalf("%s config %+v, %v", img.Ref, cf, err)
		}
		layers, err := image.Layers()
		if err != nil || len(layers) != 1 {
			t.Fatalf("%s layers %v, %v", img.Ref, layers, err)
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		bin := extract(t, rc, img.entrypoint[1:])
		t.Run(img.src, func(t *testing.T) { runs(t, img, bin) })
	}
}

// runs starts the image's binary on the host: pause waits until told to
// stop, the web server's echo prints.
func runs(t *testing.T, img Image, bin []byte) {
	path := filepath.Join(t.TempDir(), img.src)
	if err := os.WriteFile(path, bin, 0o700); err != nil {
		t.Fatal(err)
	}
	if img == WebServer {
		out, err := exec.Command(path, "echo", "hello", "node").Output()
		if err != nil || string(out) != "hello node\n" {
			t.Fatalf("webserver echo: %q, %v", out, err)
		}
		getsFromServer(t, path)
		return
	}
	cmd := exec.Command(path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("pause exited on its own: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("pause on SIGTERM: %v", err)
		}
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("pause ignored SIGTERM")
	}
}

func untar(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, h.Name) //nolint:gosec // G305: the test's own archive
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o700); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func extract(t *testing.T, r io.ReadCloser, name string) []byte {
	t.Helper()
	defer func() { _ = r.Close() }()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("layer has no %s: %v", name, err)
		}
		if h.Name == name {
			if h.Mode&0o111 == 0 {
				t.Errorf("%s is not executable", name)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

// getsFromServer serves on a loopback port and reads it back with the
// binary's own client.
func getsFromServer(t *testing.T, path string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	_ = l.Close() // the server takes the port over
	srv := exec.Command(path)
	srv.Env = append(os.Environ(), "PORT="+port)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }() // the test's own server
	host, _ := os.Hostname()
	var out []byte
	err = poll.Until(context.Background(), 5*time.Second, 100*time.Millisecond, func() error {
		var err error
		out, err = exec.Command(path, "get", "http://127.0.0.1:"+port+"/").Output()
		return err
	})
	if err != nil || string(out) != "hello from "+host+"\n" {
		t.Fatalf("webserver get: %q, %v", out, err)
	}
	if out, err := exec.Command(path, "get", "http://127.0.0.1:"+port+"/x").Output(); err != nil || len(out) == 0 {
		t.Fatalf("webserver get of another path: %q, %v", out, err)
	}
}
