package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PrometheusBinary is Debian's prometheus package's server.
const PrometheusBinary = "/usr/bin/prometheus"

// PrometheusOptions say what a test Prometheus scrapes and evaluates.
type PrometheusOptions struct {
	Job         string   // the scrape job's name
	Target      string   // host:port
	MetricsPath string   // e.g. /plugins/<id>/api/v1/metrics
	Token       string   // bearer token, written to a 0600 file (never on the command line)
	RuleFiles   []string // absolute paths, loaded unchanged
	// Interval is both the scrape and the evaluation interval (default 1s: tests wait on it).
	Interval time.Duration
}

// Prometheus is a throwaway Prometheus server on loopback. Its TSDB and config live in Dir,
// which Stop removes.
type Prometheus struct {
	Dir string
	URL string // http://127.0.0.1:<port>
	log string
	// proc is the server; nil after Stop.
	proc *process
}

// StartPrometheus starts /usr/bin/prometheus with a config scraping o.Target, on a free
// loopback port, and waits until it is ready. Without the binary it returns an error that
// says to install Debian's prometheus package (tests then call Unavailable).
func StartPrometheus(ctx context.Context, o PrometheusOptions) (*Prometheus, error) {
	if !fileExists(PrometheusBinary) {
		return nil, fmt.Errorf("%s not found: install Debian's prometheus package (build/scripts/install-deps.sh)", PrometheusBinary)
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	dir, err := os.MkdirTemp("", "dr-prometheus-")
	if err != nil {
		return nil, err
	}
	p := &Prometheus{Dir: dir, log: filepath.Join(dir, "prometheus.log")}
	config, err := p.writeConfig(o)
	if err != nil {
		p.Stop()
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		p.Stop()
		return nil, err
	}
	p.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.Stop()
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(PrometheusBinary, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port), "--log.level=warn")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if p.proc, err = startProcess("prometheus", cmd); err != nil {
		p.Stop()
		return nil, err
	}
	if err := p.waitReady(ctx); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// writeConfig writes prometheus.yml (JSON is YAML) and the token file, returning the config's path.
func (p *Prometheus) writeConfig(o PrometheusOptions) (string, error) {
	tokenFile := filepath.Join(p.Dir, "token")
	if err := os.WriteFile(tokenFile, []byte(o.Token), 0o600); err != nil {
		return "", err
	}
	interval := o.Interval.String()
	cfg := map[string]any{
		"global":     map[string]any{"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
		"rule_files": o.RuleFiles,
		"scrape_configs": []any{map[string]any{
			"job_name":       o.Job,
			"metrics_path":   o.MetricsPath,
			"authorization":  map[string]any{"type": "Bearer", "credentials_file": tokenFile},
			"static_configs": []any{map[string]any{"targets": []string{o.Target}}},
		}},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	path := filepath.Join(p.Dir, "prometheus.yml")
	return path, os.WriteFile(path, b, 0o600)
}

func (p *Prometheus) waitReady(ctx context.Context) error {
	return waitHTTPReady(ctx, "prometheus", p.URL+"/-/ready", p.proc, p.log, 100*time.Millisecond)
}

// PromSample is one element of an instant vector.
type PromSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"` // [unix time, "value"]
}

// Float is the sample's value.
func (s PromSample) Float() float64 {
	v, _ := s.Value[1].(string)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0
	}
	return f
}

// Query runs an instant query; an expression Prometheus refuses is an error with its reason.
func (p *Prometheus) Query(ctx context.Context, expr string) ([]PromSample, error) {
	var out []PromSample
	err := p.get(ctx, "/api/v1/query?query="+url.QueryEscape(expr), &out)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	return out, nil
}

// PromAlert is an active alert (pending or firing).
type PromAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// Alerts lists the active alerts.
func (p *Prometheus) Alerts(ctx context.Context) ([]PromAlert, error) {
	var out struct {
		Alerts []PromAlert `json:"alerts"`
	}
	if err := p.get(ctx, "/api/v1/alerts", &out); err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out.Alerts, nil
}

// MetricNames lists every metric name Prometheus has stored.
func (p *Prometheus) MetricNames(ctx context.Context) ([]string, error) {
	var out []string
	if err := p.get(ctx, "/api/v1/label/__name__/values", &out); err != nil {
		return nil, fmt.Errorf("list metric names: %w", err)
	}
	return out, nil
}

// get reads the data of an API answer into v.
func (p *Prometheus) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, http.NoBody)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var answer struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return fmt.Errorf("%s answered %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	if answer.Status != "success" {
		return errors.New(answer.Error)
	}
	if v, ok := v.(*[]PromSample); ok {
		var vec struct {
			Result []PromSample `json:"result"`
		}
		if err := json.Unmarshal(answer.Data, &vec); err != nil {
			return err
		}
		*v = vec.Result
		return nil
	}
	return json.Unmarshal(answer.Data, v)
}

// LogTail returns the end of the server's log, for failure messages.
func (p *Prometheus) LogTail() string { return tail(p.log, 30) }

// Stop ends the server and removes its folder (kept when DR_HARNESS_KEEP is set). Safe on nil.
func (p *Prometheus) Stop() {
	if p == nil {
		return
	}
	if p.proc != nil {
		p.proc.stop(syscall.SIGTERM, 10*time.Second)
		p.proc = nil
	}
	if p.Dir != "" && os.Getenv("DR_HARNESS_KEEP") == "" {
		_ = os.RemoveAll(p.Dir)
	}
}
