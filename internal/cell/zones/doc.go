// Package zones owns what a cell does about its zones: which are out of
// rotation (shifted by an operator or found impaired by the cell's probes),
// the zone network and the faults injected into it, and the evacuation of a
// zone out of every cluster (endpoints drained, controllers and, in an
// impaired zone, etcd stopped, controller leases moved). Version upgrades
// wait while a zone is out. The cluster lifecycle and etcd care ask it what
// to keep stopped and where not to lead.
package zones
