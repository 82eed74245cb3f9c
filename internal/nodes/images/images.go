package images

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cellplane/cellplane/internal/pki"
)

//go:embed src/pause/main.go src/webserver/main.go
var sources embed.FS

// Image is one image cellplane builds.
type Image struct {
	// Ref is the reference containerd knows it by after the import.
	Ref string
	// src is its program's directory under src/; entrypoint its path in
	// the image.
	src, entrypoint string
	user            string
}

// Pause is the pods' sandbox image (the kubelet's and containerd's
// sandbox_image).
var Pause = Image{Ref: "cellplane.local/pause:1", src: "pause", entrypoint: "/pause", user: "65535"}

// WebServer is the test web server: port 8080, `/webserver echo ...` for exec.
var WebServer = Image{Ref: "cellplane.local/webserver:1", src: "webserver", entrypoint: "/webserver", user: "65532"}

// Builder builds images into a cache directory.
type Builder struct {
	// Dir caches archives by their content's hash.
	Dir string
	// Go is the go command; "" is "go" from PATH.
	Go string
}

// Archive returns the path of img's OCI archive, building it unless an
// archive of the same sources, Go version and platform is there already.
func (b Builder) Archive(ctx context.Context, img Image) (string, error) {
	src, err := sources.ReadFile("src/" + img.src + "/main.go")
	if err != nil {
		return "", fmt.Errorf("reading %s's source: %w", img.src, err)
	}
	goVer, err := b.goVersion(ctx)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(bytes.Join([][]byte{src, []byte(img.Ref), []byte(img.user), []byte(goVer), []byte(runtime.GOARCH)}, []byte{0}))
	path := filepath.Join(b.Dir, img.src+"-"+hex.EncodeToString(sum[:8])+".tar")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	bin, err := b.compile(ctx, img, src)
	if err != nil {
		return "", err
	}
	data, err := archive(img, bin)
	if err != nil {
		return "", fmt.Errorf("building image %s: %w", img.Ref, err)
	}
	if err := os.MkdirAll(b.Dir, 0o700); err != nil {
		return "", fmt.Errorf("creating image cache: %w", err)
	}
	if err := pki.WriteFileAtomic(path, data, 0o600); err != nil {
		return "", fmt.Errorf("writing image %s: %w", img.Ref, err)
	}
	return path, nil
}

func (b Builder) goCmd() string {
	if b.Go == "" {
		return "go"
	}
	return b.Go
}

func (b Builder) goVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, b.goCmd(), "env", "GOVERSION").Output() //nolint:gosec // G204: the configured go command
	if err != nil {
		return "", fmt.Errorf("asking go for its version: %w", err)
	}
	return string(bytes.TrimSpace(out)), nil
}

// compile builds the program as a static binary in a module of its own
// (it imports only the standard library).
func (b Builder) compile(ctx context.Context, img Image, src []byte) ([]byte, error) {
	work, err := os.MkdirTemp("", "cellplane-image-")
	if err != nil {
		return nil, fmt.Errorf("creating build directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(work) }() // a temporary directory: the build's result is what matters
	files := map[string][]byte{"go.mod": []byte("module cellplane.local/" + img.src + "\n\ngo 1.24\n"), "main.go": src}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(work, name), data, 0o600); err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
	}
	cmd := exec.CommandContext(ctx, b.goCmd(), "build", "-trimpath", "-ldflags=-s -w", "-o", "out", ".") //nolint:gosec // G204: the configured go command
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("compiling %s: %w: %s", img.src, err, out)
	}
	bin, err := os.ReadFile(filepath.Join(work, "out")) //nolint:gosec // G304: the build's own output
	if err != nil {
		return nil, fmt.Errorf("reading %s's binary: %w", img.src, err)
	}
	return bin, nil
}

// epoch dates every file and the image itself, so the same binary gives
// the same image.
var epoch = time.Unix(0, 0).UTC()

// archive is a single-layer OCI image holding bin at img.entrypoint.
func archive(img Image, bin []byte) ([]byte, error) {
	return ociArchive(spec{
		ref:        img.Ref,
		files:      []file{{path: img.entrypoint, mode: 0o755, data: bin}},
		entrypoint: []string{img.entrypoint},
		user:       img.user,
	})
}

// file is one entry of an image's layer: a regular file, or a symlink
// when link is set.
type file struct {
	// path is absolute, in the image.
	path string
	mode int64
	data []byte
	link string
}

// spec is an image to write: its name, its layer's files and its config.
type spec struct {
	ref        string
	files      []file
	entrypoint []string
	user       string
	env        []string
}

// ociArchive is a single-layer OCI image of s's files, written as an OCI
// image layout in a tar, named for containerd by the
// io.containerd.image.name annotation.
func ociArchive(s spec) ([]byte, error) {
	layer, err := layerOf(s.files)
	if err != nil {
		return nil, err
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	image, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, fmt.Errorf("adding the layer: %w", err)
	}
	cf, err := image.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = s.entrypoint
	cf.Config.User = s.user
	cf.Config.Env = s.env
	if image, err = mutate.ConfigFile(image, cf); err != nil {
		return nil, fmt.Errorf("writing the config: %w", err)
	}
	dir, err := os.MkdirTemp("", "cellplane-oci-")
	if err != nil {
		return nil, fmt.Errorf("creating layout directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }() // a temporary directory, tarred below
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return nil, fmt.Errorf("writing the layout: %w", err)
	}
	err = p.AppendImage(image,
		layout.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}),
		layout.WithAnnotations(map[string]string{
			"io.containerd.image.name":          s.ref,
			"org.opencontainers.image.ref.name": s.ref,
		}))
	if err != nil {
		return nil, fmt.Errorf("adding the image to the layout: %w", err)
	}
	return tarDir(dir)
}

// layerTar is the layer's tar: every file's parent directories first, then
// the files, in path order, all dated epoch and owned by root.
func layerTar(files []file) ([]byte, error) {
	sorted := slices.Clone(files)
	slices.SortFunc(sorted, func(a, b file) int { return strings.Compare(a.path, b.path) })
	dirs := map[string]bool{}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var parents func(p string) error
	parents = func(p string) error {
		d := path.Dir(p)
		if d == "/" || dirs[d] {
			return nil
		}
		if err := parents(d); err != nil {
			return err
		}
		dirs[d] = true
		return tw.WriteHeader(&tar.Header{Name: d[1:] + "/", Mode: 0o755, ModTime: epoch, Typeflag: tar.TypeDir, Format: tar.FormatPAX})
	}
	for _, f := range sorted {
		if !path.IsAbs(f.path) || path.Clean(f.path) != f.path {
			return nil, fmt.Errorf("writing the layer: %q is not a clean absolute path", f.path)
		}
		if err := parents(f.path); err != nil {
			return nil, fmt.Errorf("writing the layer: %w", err)
		}
		hdr := &tar.Header{Name: f.path[1:], Mode: f.mode, ModTime: epoch, Format: tar.FormatPAX}
		if f.link != "" {
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, f.link, 0o777
		} else {
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("writing the layer: %w", err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("writing the layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("writing the layer: %w", err)
	}
	return buf.Bytes(), nil
}

func layerOf(files []file) (v1.Layer, error) {
	data, err := layerTar(files)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("making the layer: %w", err)
	}
	return layer, nil
}

// tarDir tars a directory's regular files and directories, in a stable order.
func tarDir(dir string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name, hdr.ModTime, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = filepath.ToSlash(rel), epoch, 0, 0, "", ""
		if info.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p) //nolint:gosec // G304: the layout just written
		if err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tarring the layout: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tarring the layout: %w", err)
	}
	return buf.Bytes(), nil
}
