// Package addons serves the regional API's EKS managed add-on operations:
// CreateAddon, DescribeAddon, ListAddons, UpdateAddon, DeleteAddon,
// DescribeAddonVersions and DescribeAddonConfiguration, and the default
// add-ons a new cluster gets. An add-on is an Addon object of the region
// store, labelled with its cluster and cell and owned by the cluster's UID;
// the cell mirrors it, applies its objects into the tenant cluster and
// reports back what it saw, which this package turns into the add-on's EKS
// status and settles its AddonUpdate records with. Versions and
// configuration come from package addoncatalog. It fetches clusters only
// through the Clusters the regional API hands it, and its errors go through
// the API's one wire-error table.
package addons
