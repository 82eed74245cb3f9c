package lb

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestParseEndpointConfig(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    EndpointConfig
		wantErr bool
	}{{
		name: "defaults fill zero fields",
		json: `{"listen":"127.100.64.1:6443","backends":[{"name":"a","address":"127.100.16.1:6443"},{"address":"127.100.32.1:6443"}],"healthCheck":{"caFile":"/ca.crt"}}`,
		want: EndpointConfig{ID: "default.demo", Listen: "127.100.64.1:6443",
			Backends:     []BackendConfig{{Name: "a", Address: "127.100.16.1:6443"}, {Name: "127.100.32.1:6443", Address: "127.100.32.1:6443"}},
			HealthCheck:  HealthCheckConfig{Path: "/readyz", CAFile: "/ca.crt", IntervalMillis: 1000, TimeoutMillis: 1000, FallCount: 2, RiseCount: 1},
			DrainSeconds: DefaultDrainSeconds},
	}, {
		name: "explicit values and relative CA, unknown fields ignored",
		json: `{"id":"default.demo","listen":":6443","future":true,"healthCheck":{"path":"/livez","caFile":"ca.crt","serverName":"kube","intervalMillis":200,"timeoutMillis":300,"fallCount":3,"riseCount":2}}`,
		want: EndpointConfig{ID: "default.demo", Listen: ":6443",
			HealthCheck:  HealthCheckConfig{Path: "/livez", CAFile: "/cfg/ca.crt", ServerName: "kube", IntervalMillis: 200, TimeoutMillis: 300, FallCount: 3, RiseCount: 2},
			DrainSeconds: DefaultDrainSeconds},
	},
		{name: "syntax error", json: `{"listen":`, wantErr: true},
		{name: "id differs from file name", json: `{"id":"other","listen":":1","healthCheck":{"caFile":"/ca"}}`, wantErr: true},
		{name: "listen without port", json: `{"listen":"127.0.0.1","healthCheck":{"caFile":"/ca"}}`, wantErr: true},
		{name: "backend without host", json: `{"listen":":1","backends":[{"address":":6443"}],"healthCheck":{"caFile":"/ca"}}`, wantErr: true},
		{name: "duplicate backend names", json: `{"listen":":1","backends":[{"name":"a","address":"h:1"},{"name":"a","address":"h:2"}],"healthCheck":{"caFile":"/ca"}}`, wantErr: true},
		{name: "missing caFile", json: `{"listen":":1"}`, wantErr: true},
		{name: "relative path", json: `{"listen":":1","healthCheck":{"caFile":"/ca","path":"readyz"}}`, wantErr: true},
		{name: "negative interval", json: `{"listen":":1","healthCheck":{"caFile":"/ca","intervalMillis":-1}}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEndpointConfig([]byte(tt.json), "/cfg", "default.demo")
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("err = %v, want ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestEndpointID(t *testing.T) {
	tests := []struct {
		name, id string
		ok       bool
	}{
		{"default.demo.json", "default.demo", true},
		{".default.demo.json.123.tmp", "", false},
		{".hidden.json", "", false},
		{"..data", "", false},
		{".json", "", false},
		{"ca.crt", "", false},
		{"demo.json.bak", "", false},
	}
	for _, tt := range tests {
		if id, ok := endpointID(tt.name); id != tt.id || ok != tt.ok {
			t.Errorf("endpointID(%q) = %q, %v; want %q, %v", tt.name, id, ok, tt.id, tt.ok)
		}
	}
}

func TestWriteEndpointFileRoundTrips(t *testing.T) {
	dir := t.TempDir()
	want := EndpointConfig{ID: "default.demo", Listen: "127.100.64.1:6443",
		Backends:                []BackendConfig{{Name: "a", Address: "127.100.16.1:6443", Draining: true}},
		HealthCheck:             HealthCheckConfig{Path: "/readyz", CAFile: "/ca.crt", IntervalMillis: 1000, TimeoutMillis: 1000, FallCount: 2, RiseCount: 1},
		MaxConnectionAgeSeconds: 1800, DrainSeconds: 5}
	if err := WriteEndpointFile(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := readEndpointFile(dir, "default.demo")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("read back %+v, %v; want %+v", got, err, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only the endpoint file", len(entries))
	}
	if err := RemoveEndpointFile(dir, "default.demo"); err != nil {
		t.Fatal(err)
	}
	if err := RemoveEndpointFile(dir, "default.demo"); err != nil {
		t.Errorf("removing a missing file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "default.demo.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file still there: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"minimal", Config{ConfigDir: "/etc/lb"}, true},
		{"no dir", Config{}, false},
		{"negative reload", Config{ConfigDir: "/etc/lb", ReloadInterval: -time.Second}, false},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
			t.Errorf("%s: New = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}
