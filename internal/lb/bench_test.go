package lb

import (
	"crypto/tls"
	"io"
	"net/http"
	"testing"
)

// BenchmarkProxyRoundTrip measures a small request over one kept-alive TLS
// connection, directly and through the balancer; the difference is the
// proxy's added latency per round trip.
func BenchmarkProxyRoundTrip(b *testing.B) {
	a := startFakeAPIServer(b, "a")
	h := newHarness(b)
	h.write(h.endpointConfig("default.demo", a))
	addr := h.waitListening("default.demo")
	h.waitState("default.demo", "a", StateHealthy)

	b.Run("direct", func(b *testing.B) { benchGet(b, a.addr()) })
	b.Run("balancer", func(b *testing.B) { benchGet(b, addr) })
}

func benchGet(b *testing.B, addr string) {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: mustCert(b).pool}, MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	url := "https://" + addr + "/"
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}
