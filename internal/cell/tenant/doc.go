// Package tenant is what every concern of a cell knows about one tenant
// cluster: where its files live, the plan of its control plane, its
// conditions, the errors that end its pass early, and the small interfaces
// through which member replacement and restores take part in that pass. It
// holds no state and runs nothing.
package tenant
