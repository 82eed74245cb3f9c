package cli

import (
	"encoding/base64"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/internal/region/api"
)

func newClusterKubeconfig(g *globals) *cobra.Command {
	var file string
	var admin bool
	cmd := &cobra.Command{
		Use:   "kubeconfig NAME",
		Short: "Print a kubeconfig that signs in with `aws eks get-token` (or write it with --output FILE)",
		Long: "Print a kubeconfig for the cluster that signs in the EKS way: kubectl runs\n" +
			"`aws eks get-token` with the profile cellplane up wrote, and the cluster's access\n" +
			"entries say what the principal may do. --admin prints the break-glass\n" +
			"client-certificate kubeconfig instead (system:masters, logged by the region).",
		Args: nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Client()
			if err != nil {
				return err
			}
			var data []byte
			if admin {
				data, err = c.Kubeconfig(cmd.Context(), args[0])
			} else {
				data, err = g.execKubeconfig(cmd, args[0])
			}
			if err != nil {
				return err
			}
			if file == "" || file == "-" {
				_, err = g.Stdout.Write(data)
				return err
			}
			// The admin one carries credentials: readable by its owner only.
			if err := pki.WriteFileAtomic(file, data, 0o600); err != nil {
				return fmt.Errorf("writing kubeconfig: %w", err)
			}
			g.Note("wrote the kubeconfig of %s to %s\n", args[0], file)
			return nil
		},
	}
	// --output here names a file, as the issue asks; it shadows the table/json flag.
	cmd.Flags().StringVarP(&file, "output", "o", "", "write the kubeconfig to this file instead of stdout")
	cmd.Flags().BoolVar(&admin, "admin", false, "the break-glass client-certificate kubeconfig (system:masters) instead")
	return cmd
}

// execKubeconfig is what `aws eks update-kubeconfig` writes: the cluster's
// endpoint and CA, and a user that runs `aws eks get-token`, here with the
// profile and files cellplane up wrote for the first account.
func (g *globals) execKubeconfig(cmd *cobra.Command, name string) ([]byte, error) {
	c, err := g.Client()
	if err != nil {
		return nil, err
	}
	cl, err := c.DescribeCluster(cmd.Context(), name)
	if err != nil {
		return nil, err
	}
	if cl.Endpoint == "" || cl.CertificateAuthority == nil || cl.CertificateAuthority.Data == "" {
		return nil, fmt.Errorf("cluster %s has no endpoint yet (it is %s)", name, cl.Status)
	}
	ca, err := base64.StdEncoding.DecodeString(cl.CertificateAuthority.Data)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: certificate authority: %w", name, err)
	}
	dir, err := filepath.Abs(g.DataDir)
	if err != nil {
		return nil, err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: cl.Endpoint, CertificateAuthorityData: ca}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion: "client.authentication.k8s.io/v1beta1",
		Command:    "aws",
		Args:       []string{"--region", api.DefaultRegion, "eks", "get-token", "--cluster-name", name, "--output", "json"},
		Env: []clientcmdapi.ExecEnvVar{
			{Name: "AWS_CONFIG_FILE", Value: datadir.AWSConfigFile(dir)},
			{Name: "AWS_SHARED_CREDENTIALS_FILE", Value: datadir.AWSCredentialsFile(dir)},
			{Name: "AWS_PROFILE", Value: datadir.Profile},
		},
		InteractiveMode: clientcmdapi.IfAvailableExecInteractiveMode,
	}}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	return clientcmd.Write(*cfg)
}
