package controlplane

// WriteConfigs writes what every component's members read besides
// certificates: the API servers' audit policy, the controllers' kubeconfigs.
func (p *Plan) WriteConfigs() error {
	for _, c := range p.in.Components {
		if err := c.WriteFiles(p); err != nil {
			return err
		}
	}
	return nil
}
