// Command webserver is the test web server of cellplane's node tests: it
// answers every request with the pod's hostname and logs each one, and
// `webserver echo ARGS...` prints its arguments and `webserver get URL`
// prints what a GET of the URL returns, so `kubectl exec` has commands to
// run in an image that holds nothing else.
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "echo" {
		fmt.Println(strings.Join(os.Args[2:], " "))
		return
	}
	if len(os.Args) == 3 && os.Args[1] == "get" {
		if err := get(os.Args[2]); err != nil {
			log.Fatal(err)
		}
		return
	}
	addr := ":8080"
	if p := os.Getenv("PORT"); p != "" {
		addr = ":" + p
	}
	host, _ := os.Hostname()
	log.Printf("webserver on %s listening on %s", host, addr) //nolint:gosec // G706: a test server's log of its own hostname
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%q %q from %s", r.Method, r.URL.Path, r.RemoteAddr) //nolint:gosec // G706: quoted, so a request cannot forge log lines
		_, _ = fmt.Fprintf(w, "hello from %s\n", host)                  // a client that hung up needs no answer
	})
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// get prints the body of a GET of url: a pod's client for Services and
// names in the cluster.
func get(url string) error {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url) //nolint:gosec,noctx // G107: the test's URL; one request with the client's timeout
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }() // read to the end below
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	_, err = io.Copy(os.Stdout, resp.Body)
	return err
}
