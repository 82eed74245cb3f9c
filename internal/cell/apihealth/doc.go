// Package apihealth measures, from inside the cell, how each of its
// clusters' APIs answer through their endpoints: a probe of /readyz through
// the cell's load balancer every few seconds, counted as requests, errors and
// latency. The heartbeat reports the counters to the region, where platform
// rollouts compare a wave's clusters against their own baseline. It judges
// nothing itself.
package apihealth
