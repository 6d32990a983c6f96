package harness

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Mattermost is a real Mattermost server built from its Go module, on loopback.
type Mattermost struct {
	Dir  string // the server's working folder: config/, data/, plugins/, logs/
	URL  string
	Port int
	log  string
	proc *process
	env  []string
	bin  string
}

// ServerBuild returns the folder of the cached server build, building it on first use with
// build/scripts/mattermost-server.sh (a few minutes, once per pinned version).
func ServerBuild(ctx context.Context, root string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "build", "scripts", "mattermost-server.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build the Mattermost server: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// initialConfig is written as config.json rather than set by environment variables, so that
// tests can still change it through the API (environment variables always win).
const initialConfig = `{"EmailSettings": {"SendEmailNotifications": false}}
`

// MattermostOptions configures StartMattermost.
type MattermostOptions struct {
	Build      string            // folder from ServerBuild
	Dir        string            // working folder to create
	DataSource string            // PostgreSQL URL of an empty or existing Mattermost database
	ExtraEnv   map[string]string // more MM_* settings, or DR_FAILPOINTS
	// KeepConfig starts the server on the config/config.json already in Dir (a restored one)
	// instead of writing the initial config.
	KeepConfig bool
}

// StartMattermost prepares a working folder and starts the server on a free port.
func StartMattermost(ctx context.Context, o MattermostOptions) (*Mattermost, error) {
	for _, d := range []string{"config", "data", "plugins", "client/plugins", "logs"} {
		if err := os.MkdirAll(filepath.Join(o.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	// The server reads these relative to its working folder.
	for _, d := range []string{"i18n", "templates", "fonts"} {
		if err := os.Symlink(filepath.Join(o.Build, d), filepath.Join(o.Dir, d)); err != nil && !os.IsExist(err) {
			return nil, err
		}
	}
	if !o.KeepConfig {
		if err := os.WriteFile(filepath.Join(o.Dir, "config", "config.json"), []byte(initialConfig), 0o600); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	mm := &Mattermost{Dir: o.Dir, Port: port, URL: fmt.Sprintf("http://127.0.0.1:%d", port),
		log: filepath.Join(o.Dir, "server.log"), bin: filepath.Join(o.Build, "bin", "mattermost")}
	settings := map[string]string{
		"MM_SQLSETTINGS_DRIVERNAME":                     "postgres",
		"MM_SQLSETTINGS_DATASOURCE":                     o.DataSource,
		"MM_SERVICESETTINGS_LISTENADDRESS":              fmt.Sprintf("127.0.0.1:%d", port),
		"MM_SERVICESETTINGS_SITEURL":                    mm.URL,
		"MM_SERVICESETTINGS_ENABLELOCALMODE":            "false",
		"MM_SERVICESETTINGS_ENABLESECURITYFIXALERT":     "false",
		"MM_SERVICESETTINGS_ENABLEDEVELOPER":            "false",
		"MM_PLUGINSETTINGS_ENABLE":                      "true",
		"MM_PLUGINSETTINGS_ENABLEUPLOADS":               "true",
		"MM_PLUGINSETTINGS_AUTOMATICPREPACKAGEDPLUGINS": "false",
		"MM_PLUGINSETTINGS_ENABLEMARKETPLACE":           "false",
		"MM_LOGSETTINGS_ENABLEDIAGNOSTICS":              "false",
		"MM_LOGSETTINGS_CONSOLELEVEL":                   "WARN",
		"MM_LOGSETTINGS_FILELEVEL":                      "INFO",
		"MM_RATELIMITSETTINGS_ENABLE":                   "false",
		"MM_TEAMSETTINGS_ENABLEOPENSERVER":              "true",
		"MM_TEAMSETTINGS_MAXUSERSPERTEAM":               "100000",
		"MM_LOGSETTINGS_FILELOCATION":                   filepath.Join(o.Dir, "logs"),
		"MM_FILESETTINGS_DIRECTORY":                     filepath.Join(o.Dir, "data") + "/",
	}
	for k, v := range o.ExtraEnv {
		settings[k] = v
	}
	for k, v := range settings {
		mm.env = append(mm.env, k+"="+v)
	}
	if err := mm.Start(ctx); err != nil {
		return nil, err
	}
	return mm, nil
}

// Start starts (or restarts) the server process and waits until it answers.
func (mm *Mattermost) Start(ctx context.Context) error {
	logf, err := os.OpenFile(mm.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(mm.bin, "server", "--config", filepath.Join(mm.Dir, "config", "config.json"))
	cmd.Dir = mm.Dir
	cmd.Env = append(os.Environ(), mm.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if mm.proc, err = startProcess("mattermost", cmd); err != nil {
		return err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		resp, err := http.Get(mm.URL + "/api/v4/system/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if mm.proc.exited() {
			return fmt.Errorf("mattermost exited during start-up:\n%s", tail(mm.log, 30))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("mattermost did not answer within 3 minutes:\n%s", tail(mm.log, 30))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// LogTail returns the end of the server's log, for failure messages.
func (mm *Mattermost) LogTail(lines int) string { return tail(mm.log, lines) }

// Stop shuts the server and its plugin processes down.
func (mm *Mattermost) Stop() {
	if mm != nil && mm.proc != nil {
		mm.proc.stop(syscall.SIGTERM, 20*time.Second)
	}
}
