package lb

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// source tracks one endpoint file and what the balancer made of it.
type source struct {
	id      string
	info    os.FileInfo // the file as last read
	caPath  string
	caInfo  os.FileInfo // the CA file as last read; nil if it was missing
	loadErr error       // why the file's current content is not in effect
	ep      *endpoint   // nil until the file first loads
}

// Reload reads the config directory once and applies what changed. The
// reload loop calls it every ReloadInterval and Run on SIGHUP; calling it
// directly is safe too.
func (b *Balancer) Reload() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.started || b.closed {
		return
	}
	files, err := b.listFiles()
	b.noteDirError(err)
	if err != nil {
		return
	}
	for id, info := range files {
		b.syncSource(id, info)
	}
	for id, src := range b.sources {
		if _, ok := files[id]; !ok {
			b.removeSource(id, src)
		}
	}
}

// listFiles maps endpoint ids to their files. A nil info marks a file that
// exists but cannot be inspected; its endpoint is left as it is.
func (b *Balancer) listFiles() (map[string]os.FileInfo, error) {
	entries, err := os.ReadDir(b.cfg.ConfigDir)
	if err != nil {
		return nil, fmt.Errorf("reading config directory: %w", err)
	}
	files := make(map[string]os.FileInfo, len(entries))
	for _, ent := range entries {
		id, ok := endpointID(ent.Name())
		if !ok {
			continue
		}
		if info, ok := b.statFile(ent.Name()); ok {
			files[id] = info
		}
	}
	return files, nil
}

// statFile uses Stat, not the entry's Lstat: ConfigMap volumes present files
// as symlinks that are swapped on every update.
func (b *Balancer) statFile(name string) (os.FileInfo, bool) {
	info, err := os.Stat(filepath.Join(b.cfg.ConfigDir, name))
	switch {
	case errors.Is(err, os.ErrNotExist): // removed since ReadDir
		return nil, false
	case err != nil:
		return nil, true
	default:
		return info, info.Mode().IsRegular()
	}
}

// noteDirError logs when the directory turns unreadable or readable again.
// An unreadable directory leaves every endpoint as it is: a mistaken chmod or
// a brief unmount must not take a whole cell's endpoints down.
func (b *Balancer) noteDirError(err error) {
	switch {
	case err != nil && !b.dirError:
		b.log.Error("config directory unreadable; keeping current endpoints", "dir", b.cfg.ConfigDir, "err", err)
	case err == nil && b.dirError:
		b.log.Info("config directory readable again", "dir", b.cfg.ConfigDir)
	}
	b.dirError = err != nil
}

func (b *Balancer) syncSource(id string, info os.FileInfo) {
	if info == nil {
		return
	}
	src := b.sources[id]
	if src == nil {
		src = &source{id: id}
		b.sources[id] = src
	}
	if src.changed(info) {
		b.load(src, info)
		return
	}
	if src.ep != nil && !src.ep.listening() {
		_ = src.ep.tryListen() // already logged when the file changed
	}
}

func (b *Balancer) load(src *source, info os.FileInfo) {
	src.info = info
	cfg, err := readEndpointFile(b.cfg.ConfigDir, src.id)
	if err != nil {
		src.loadErr = err
		b.log.Error("endpoint config rejected", "endpoint", src.id, "servingPrevious", src.ep != nil, "err", err)
		return
	}
	src.loadErr = nil
	src.caPath = cfg.HealthCheck.CAFile
	// Stat before newHealthCheck reads the CA, so that a write racing the
	// read shows up as a change at the next reload.
	src.caInfo = statOrNil(src.caPath)
	b.apply(src, cfg, b.healthCheckFor(src, cfg.HealthCheck))
}

// healthCheckFor keeps the CA already in use when the new one cannot be
// loaded: failing every check would take down an endpoint whose backends
// are fine, for the sake of a file problem.
func (b *Balancer) healthCheckFor(src *source, c HealthCheckConfig) *healthCheck {
	hc := newHealthCheck(c)
	if hc.tlsErr == nil {
		return hc
	}
	src.loadErr = hc.tlsErr
	var prev *healthCheck
	if src.ep != nil {
		prev = src.ep.health.Load()
	}
	if prev == nil || prev.tls == nil {
		b.log.Error("health checks cannot pass", "endpoint", src.id, "err", hc.tlsErr)
		return hc
	}
	b.log.Error("keeping the previous health-check CA", "endpoint", src.id, "err", hc.tlsErr)
	hc.tls, hc.tlsErr = prev.tls, nil
	return hc
}

func (b *Balancer) apply(src *source, cfg EndpointConfig, hc *healthCheck) {
	if src.ep != nil && src.ep.listen != cfg.Listen {
		// Clients know an endpoint by its address, so a move is a new endpoint.
		b.removeEndpoint(src)
	}
	if src.ep == nil {
		src.ep = newEndpoint(b.ctx, &b.wg, b.log, b.limits, cfg, hc)
	} else {
		src.ep.update(cfg, hc)
		b.log.Info("endpoint updated", "endpoint", src.id)
	}
	if err := src.ep.tryListen(); err != nil {
		b.log.Error("endpoint cannot listen; retrying at each reload", "endpoint", src.id, "err", err)
	}
}

func (b *Balancer) removeSource(id string, src *source) {
	b.removeEndpoint(src)
	delete(b.sources, id)
}

func (b *Balancer) removeEndpoint(src *source) {
	if src.ep == nil {
		return
	}
	src.ep.close()
	src.ep = nil
	b.log.Info("endpoint removed", "endpoint", src.id)
}

// changed treats a file as unchanged while its inode, size and mtime are:
// writers replace files by rename, which always brings a new inode. The CA
// file counts too, so a rotated CA reaches the health checks.
func (s *source) changed(info os.FileInfo) bool {
	return !sameVersion(s.info, info) || !sameVersion(s.caInfo, statOrNil(s.caPath))
}

func sameVersion(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

func statOrNil(path string) os.FileInfo {
	if path == "" {
		return nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil
	}
	return info
}

func (s *source) close() {
	if s.ep != nil {
		s.ep.close()
	}
}

func (s *source) status() EndpointStatus {
	st := EndpointStatus{ID: s.id, Backends: []BackendStatus{}}
	if s.ep != nil {
		st = s.ep.status()
	}
	if s.loadErr != nil {
		st.Error = strings.TrimSuffix(s.loadErr.Error()+"; "+st.Error, "; ")
	}
	return st
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
