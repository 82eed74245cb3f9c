package bootstrap

import (
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Kubeconfig is the kubelet's bootstrap kubeconfig: the cluster's endpoint,
// the CA that signed its serving certificate and the token. The kubelet
// uses it once, to ask for its client certificate, and then writes the
// kubeconfig it keeps using itself (--kubeconfig).
func Kubeconfig(server string, caPEM []byte, t Token) ([]byte, error) {
	if server == "" || len(caPEM) == 0 {
		return nil, fmt.Errorf("%w: a bootstrap kubeconfig needs the endpoint and the cluster CA", ErrInvalidToken)
	}
	if _, err := ParseToken(t.String()); err != nil {
		return nil, err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cluster"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["kubelet-bootstrap"] = &clientcmdapi.AuthInfo{Token: t.String()}
	cfg.Contexts["bootstrap"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "kubelet-bootstrap"}
	cfg.CurrentContext = "bootstrap"
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("writing bootstrap kubeconfig: %w", err)
	}
	return out, nil
}
