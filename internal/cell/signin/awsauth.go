package signin

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// AWSAuth is the tenant's kube-system/aws-auth ConfigMap, the way into a
// cluster before access entries (authentication modes CONFIG_MAP and
// API_AND_CONFIG_MAP). Access entries win where both name a principal.
type AWSAuth struct {
	MapUsers []AWSAuthMapping `json:"mapUsers"`
	MapRoles []AWSAuthMapping `json:"mapRoles"`
}

// AWSAuthMapping is one entry of mapUsers or mapRoles.
type AWSAuthMapping struct {
	UserARN  string   `json:"userarn,omitempty"`
	RoleARN  string   `json:"rolearn,omitempty"`
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

// ParseAWSAuth reads the ConfigMap's data. A malformed list is an error:
// a typo must not silently sign nobody in, nor somebody else.
func ParseAWSAuth(data map[string]string) (AWSAuth, error) {
	var a AWSAuth
	if err := yaml.UnmarshalStrict([]byte(data["mapUsers"]), &a.MapUsers); err != nil {
		return AWSAuth{}, fmt.Errorf("aws-auth mapUsers: %w", err)
	}
	if err := yaml.UnmarshalStrict([]byte(data["mapRoles"]), &a.MapRoles); err != nil {
		return AWSAuth{}, fmt.Errorf("aws-auth mapRoles: %w", err)
	}
	return a, nil
}

// Entry is the mapping of principal (a user's or a role's ARN) as an access
// entry without policies, nil when there is none.
func (a AWSAuth) Entry(principal string) *v1alpha1.AccessEntry {
	for _, list := range [][]AWSAuthMapping{a.MapUsers, a.MapRoles} {
		for _, m := range list {
			if m.UserARN == principal || m.RoleARN == principal {
				return &v1alpha1.AccessEntry{Spec: v1alpha1.AccessEntrySpec{PrincipalARN: principal,
					Username: m.Username, KubernetesGroups: m.Groups}}
			}
		}
	}
	return nil
}

// ConfigMaps finds a tenant's aws-auth mappings.
type ConfigMaps interface {
	AWSAuth(ctx context.Context, c *v1alpha1.Cluster) (AWSAuth, error)
}

// TenantReader reads what sign-in needs from the tenant cluster itself, as
// its cluster admin, keeping each answer a short while: the ClusterRoles
// access policies name (RolesTTL) and the aws-auth ConfigMap (AWSAuthTTL).
type TenantReader struct {
	Config func(c *v1alpha1.Cluster) (*rest.Config, error)

	mu    sync.Mutex
	cache map[string]cached
}

// AWSAuthTTL is how long TenantReader keeps a cluster's aws-auth mappings:
// an edit of the ConfigMap takes effect within it (and the API servers' own
// token cache).
const AWSAuthTTL = 10 * time.Second

type cached struct {
	value any
	at    time.Time
}

// fresh wraps a value get hands back without keeping it: one about to
// change, such as an aggregated ClusterRole not filled in yet.
type fresh struct{ value any }

// get returns the value under key younger than ttl, or loads it.
func (t *TenantReader) get(key string, ttl time.Duration, load func() (any, error)) (any, error) {
	t.mu.Lock()
	hit, ok := t.cache[key]
	t.mu.Unlock()
	if ok && time.Since(hit.at) < ttl {
		return hit.value, nil
	}
	v, err := load()
	if err != nil {
		return nil, err
	}
	if f, ok := v.(fresh); ok {
		return f.value, nil
	}
	t.mu.Lock()
	if t.cache == nil {
		t.cache = map[string]cached{}
	}
	t.cache[key] = cached{value: v, at: time.Now()}
	t.mu.Unlock()
	return v, nil
}

func (t *TenantReader) clientset(c *v1alpha1.Cluster) (kubernetes.Interface, error) {
	cfg, err := t.Config(c)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	return cs, nil
}

// AWSAuth implements ConfigMaps; a cluster without the ConfigMap maps nobody.
func (t *TenantReader) AWSAuth(ctx context.Context, c *v1alpha1.Cluster) (AWSAuth, error) {
	v, err := t.get(string(c.UID)+"/aws-auth", AWSAuthTTL, func() (any, error) {
		cs, err := t.clientset(c)
		if err != nil {
			return nil, err
		}
		cm, err := cs.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, "aws-auth", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return AWSAuth{}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading kube-system/aws-auth: %w", err)
		}
		return ParseAWSAuth(cm.Data)
	})
	if err != nil {
		return AWSAuth{}, err
	}
	return v.(AWSAuth), nil
}
