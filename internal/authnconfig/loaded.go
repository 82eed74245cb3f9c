package authnconfig

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Metrics kube-apiserver keeps about its authentication configuration
// (k8s.io/apiserver/pkg/server/options/authenticationconfig/metrics): the
// hash of the file it last applied, set at start and after every reload that
// succeeded, and when reloads last succeeded and failed. A reload fails, and
// the API server keeps its old authenticators, when the file does not
// validate or a new issuer's discovery document and keys cannot be fetched
// within a minute.
const (
	metricConfigInfo = "apiserver_authentication_config_controller_last_config_info"
	metricReloadLast = "apiserver_authentication_config_controller_automatic_reload_last_timestamp_seconds"
)

// ErrNoConfigInfo: the metrics hold no loaded configuration, as on an API
// server started without --authentication-config.
var ErrNoConfigInfo = errors.New("the API server reports no authentication configuration")

// Loaded is what one API server reports of its authentication configuration.
type Loaded struct {
	// Hash is the loaded file's hash, as Hash computes it.
	Hash string
	// LastSuccess and LastFailure are the Unix times of the last reload of
	// each outcome; zero when there was none.
	LastSuccess, LastFailure float64
}

// ReloadFailing reports whether the last reload attempt failed.
func (l Loaded) ReloadFailing() bool { return l.LastFailure > l.LastSuccess }

// ParseMetrics reads an API server's /metrics (Prometheus text format). It
// reads line by line, since the API server's metrics run to megabytes.
func ParseMetrics(r io.Reader) (Loaded, error) {
	var l Loaded
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, metricConfigInfo+"{"):
			l.Hash = label(line, "hash")
		case strings.HasPrefix(line, metricReloadLast+"{"):
			v, err := value(line)
			if err != nil {
				return l, err
			}
			if label(line, "status") == "success" {
				l.LastSuccess = v
			} else {
				l.LastFailure = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return l, fmt.Errorf("reading metrics: %w", err)
	}
	if l.Hash == "" {
		return l, ErrNoConfigInfo
	}
	return l, nil
}

// label returns the value of label name on a sample line; label values here
// are hashes and words, never escaped quotes.
func label(line, name string) string {
	_, rest, ok := strings.Cut(line, "{"+name+`="`)
	if !ok {
		_, rest, ok = strings.Cut(line, ","+name+`="`)
	}
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// value returns a sample line's value, after the closing brace of its labels.
func value(line string) (float64, error) {
	i := strings.LastIndexByte(line, '}')
	f := strings.Fields(line[i+1:])
	if len(f) == 0 {
		return 0, fmt.Errorf("metric line without a value: %q", line)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, fmt.Errorf("metric line %q: %w", line, err)
	}
	return v, nil
}
