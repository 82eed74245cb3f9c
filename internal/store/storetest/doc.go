// Package storetest runs package tests against a real management store instead
// of controller-runtime's fake client: etcd and kube-apiserver from the component
// cache with cellplane's CRDs installed, so CRD validation, defaults, the status
// subresource, merge patches and resourceVersion conflicts behave as they do in
// production.
//
// One store serves a whole test binary. It starts when the first test asks for
// it, listens on a loopback address that no other test binary holds (127.220.0.0
// to 127.228.255.255, picked from the process ID and claimed), and is stopped,
// its processes by PID through the process runtime and its files removed, when
// the binary ends:
//
//	var env storetest.Env
//
//	func TestMain(m *testing.M) { storetest.Main(m, &env) }
//
//	func TestSomething(t *testing.T) {
//		c := env.Client(t)
//		ns := env.Namespace(t) // t's own namespace
//		...
//	}
//
// A TestMain with more to do after the tests calls Run instead of Main; code
// that manages a store's lifetime itself (a benchmark) uses Start and Stop.
//
// The tests of a binary share the store, so each keeps to namespaces of its own
// (Namespace, or Account for the regional API's per-account namespaces) and
// creates cluster-scoped objects such as Cells with Create or CreateWithStatus,
// which delete them again when the test ends. Lists of a cluster-scoped kind see
// every test's objects: tests that use one must not run in parallel.
//
// Two costs come from kube-apiserver, once per binary: about a second before a
// CRD serves its first request (the store lists every kind in the background
// as soon as it is up), and two seconds of sleep in any create of a custom
// object within two seconds of its CRD becoming established, a guard for
// highly available API servers.
//
// The package builds nothing. Without etcd and kube-apiserver in the component
// cache, the tests that need a store fail with ErrNoComponents, which says to run
// `make components`.
package storetest
