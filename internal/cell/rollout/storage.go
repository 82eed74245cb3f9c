package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
)

// Values reads every value under a key prefix of a cluster's etcd.
type Values interface {
	Values(ctx context.Context, prefix string, f func(key string, value []byte)) error
}

// protobufPrefix starts every object the API servers store as protobuf.
var protobufPrefix = []byte("k8s\x00")

// StoredVersions counts the objects of a cluster's etcd by the apiVersion
// they are stored as. Values encrypted at rest (Secrets, which are v1 on
// every release) and values that are not objects are left out.
func StoredVersions(ctx context.Context, v Values) (map[string]int, error) {
	out := map[string]int{}
	err := v.Values(ctx, "/registry/", func(_ string, value []byte) {
		if apiVersion := storedVersion(value); apiVersion != "" {
			out[apiVersion]++
		}
	})
	if err != nil {
		return nil, fmt.Errorf("reading the stored objects: %w", err)
	}
	return out, nil
}

func storedVersion(value []byte) string {
	switch {
	case bytes.HasPrefix(value, protobufPrefix):
		var u runtime.Unknown
		if u.Unmarshal(value[len(protobufPrefix):]) != nil {
			return ""
		}
		return u.APIVersion
	case bytes.HasPrefix(value, []byte("{")):
		var tm struct {
			APIVersion string `json:"apiVersion"`
		}
		if json.Unmarshal(value, &tm) != nil {
			return ""
		}
		return tm.APIVersion
	}
	return "" // encrypted at rest, or not an object
}

// Unserved lists, as "apiVersion (n objects)", the stored apiVersions that
// a release serving serves does not serve: what it could not read back.
func Unserved(stored map[string]int, serves []string) []string {
	var out []string
	for v, n := range stored {
		if !slices.Contains(serves, v) {
			out = append(out, fmt.Sprintf("%s (%d objects)", v, n))
		}
	}
	sort.Strings(out)
	return out
}

// ServedVersions reads an API server's discovery documents (/api and /apis)
// into the group versions it serves: "v1", "apps/v1", ...
func ServedVersions(api, apis []byte) ([]string, error) {
	var core struct{ Versions []string }
	if err := json.Unmarshal(api, &core); err != nil {
		return nil, fmt.Errorf("reading /api: %w", err)
	}
	var groups struct {
		Groups []struct {
			Versions []struct {
				GroupVersion string `json:"groupVersion"`
			} `json:"versions"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(apis, &groups); err != nil {
		return nil, fmt.Errorf("reading /apis: %w", err)
	}
	out := slices.Clone(core.Versions)
	for _, g := range groups.Groups {
		for _, v := range g.Versions {
			out = append(out, v.GroupVersion)
		}
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// unreadable explains why a rollback to release would lose data.
func unreadable(release string, unserved []string) string {
	return fmt.Sprintf("objects stored as %s, which %s does not serve, could not be read back after the rollback; nothing was changed",
		strings.Join(unserved, ", "), release)
}
