package kubeconfig

import (
	"errors"
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/cellplane/cellplane/internal/pki"
)

// ErrInvalidOptions marks Options that cannot make a usable kubeconfig.
var ErrInvalidOptions = errors.New("invalid kubeconfig options")

// Options describes one kubeconfig. Credentials come as file paths, for
// components on the same host as the PKI, or as data, for files handed to
// admins elsewhere; data wins when both are given.
type Options struct {
	ClusterName, Server string

	CAFile string
	CAData []byte

	CertFile, KeyFile string
	CertData, KeyData []byte

	// User names the credentials entry; ClusterName when empty.
	User string
}

// Build returns the kubeconfig described by o, with its context current.
func Build(o Options) *clientcmdapi.Config {
	user := o.user()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[o.ClusterName] = cluster(o)
	cfg.AuthInfos[user] = authInfo(o)
	cfg.Contexts[o.ClusterName] = &clientcmdapi.Context{Cluster: o.ClusterName, AuthInfo: user}
	cfg.CurrentContext = o.ClusterName
	return cfg
}

func cluster(o Options) *clientcmdapi.Cluster {
	c := clientcmdapi.NewCluster()
	c.Server = o.Server
	if len(o.CAData) > 0 {
		c.CertificateAuthorityData = o.CAData
	} else {
		c.CertificateAuthority = o.CAFile
	}
	return c
}

func authInfo(o Options) *clientcmdapi.AuthInfo {
	a := clientcmdapi.NewAuthInfo()
	if len(o.CertData) > 0 {
		a.ClientCertificateData = o.CertData
	} else {
		a.ClientCertificate = o.CertFile
	}
	if len(o.KeyData) > 0 {
		a.ClientKeyData = o.KeyData
	} else {
		a.ClientKey = o.KeyFile
	}
	return a
}

func (o Options) user() string {
	if o.User != "" {
		return o.User
	}
	return o.ClusterName
}

// validate rejects only what Build cannot express. clientcmd.Validate is not
// used because it requires the referenced files to exist on this host, which
// they need not when the kubeconfig is written for another one.
func (o Options) validate() error {
	if o.ClusterName == "" || o.Server == "" {
		return fmt.Errorf("%w: cluster name and server are required", ErrInvalidOptions)
	}
	return nil
}

// Marshal returns the kubeconfig described by o as YAML.
func Marshal(o Options) ([]byte, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	data, err := clientcmd.Write(*Build(o))
	if err != nil {
		return nil, fmt.Errorf("encoding kubeconfig for %s: %w", o.ClusterName, err)
	}
	return data, nil
}

// Write writes the kubeconfig described by o to path atomically with mode
// 0600, since it may embed a private key or grant cluster-admin.
func Write(path string, o Options) error {
	data, err := Marshal(o)
	if err != nil {
		return err
	}
	if err := pki.WriteFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	return nil
}
