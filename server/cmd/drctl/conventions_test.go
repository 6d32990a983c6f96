package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

// configDestination is a folder destination holding one backup of the config only, signed by
// the returned key: list, verify and restore run on it without PostgreSQL.
func configDestination(t *testing.T) (dir, backupID string, key *format.SigningKey) {
	t.Helper()
	dir = t.TempDir()
	st, err := local.New(dir)
	require.NoError(t, err)
	cfgDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(cfgDir, "saml.crt"), []byte("cert"), 0o600))
	key, err = format.GenerateSigningKey()
	require.NoError(t, err)
	ms, err := backup.Run(context.Background(), backup.Options{
		Components:        format.Components{Config: true},
		Config:            testConfig{dir: cfgDir, effective: `{"SqlSettings":{"DataSource":"postgres://old/mm"}}`},
		MattermostVersion: "11.4.0",
		Destinations:      []backup.Destination{{Name: "local", Store: st}},
		SigningKey:        key,
	})
	require.NoError(t, err)
	return dir, ms["local"].ID, key
}

// Every command's usage errors (an unknown flag, a bad value, a missing required flag, an extra
// argument) exit 2, print why on stderr and nothing on stdout.
func TestUsageErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "Commands:"},
		{"unknown command", []string{"lsit"}, `unknown command "lsit"`},
		{"help of an unknown command", []string{"help", "lsit"}, "Commands:"},
		{"list: unknown flag", []string{"list", "--from", dir, "--bogus"}, "flag provided but not defined: -bogus"},
		{"list: bad value", []string{"list", "--from", dir, "--json=maybe"}, "invalid boolean value"},
		{"list: no --from", []string{"list"}, "--from is required"},
		{"list: extra argument", []string{"list", "--from", dir, "now"}, `unexpected argument "now"`},
		{"list: bad --trust-key", []string{"list", "--from", dir, "--trust-key", "ssh-ed25519 nope"}, "--trust-key"},
		{"verify: unknown flag", []string{"verify", "--bogus"}, "flag provided but not defined"},
		{"verify: no --from", []string{"verify", "--json"}, "--from is required"},
		{"verify: extra argument", []string{"verify", "--from", dir, "latest"}, `unexpected argument "latest"`},
		{"restore: unknown flag", []string{"restore", "--from", dir, "--password", "x"}, "flag provided but not defined: -password"},
		{"restore: bad value", []string{"restore", "--from", dir, "--jobs", "many"}, `invalid value "many" for flag -jobs`},
		{"restore: no target", []string{"restore", "--from", dir, "--mattermost-version", "11.4.0"}, "nothing to restore"},
		{"restore: no --from", []string{"restore", "--config-dir", dir, "--mattermost-version", "11.4.0"}, "--from is required"},
		{"restore: zero jobs", []string{"restore", "--from", dir, "--config-dir", dir, "--jobs", "0"}, "--jobs must be at least 1"},
		{"settings: no subcommand", []string{"settings"}, "drctl settings show"},
		{"settings show: unknown flag", []string{"settings", "show", "--bogus"}, "flag provided but not defined"},
		{"settings show: no source", []string{"settings", "show"}, "--from"},
		{"status: unknown flag", []string{"status", "--bogus"}, "flag provided but not defined"},
		{"status: bad value", []string{"status", "--from", dir, "--verbose=sometimes"}, "invalid boolean value"},
		{"status: no source", []string{"status", "--json"}, "say where the DR settings are"},
		{"status: bad --trust-key", []string{"status", "--from", dir, "--trust-key", "ssh-ed25519 nope"}, "--trust-key"},
		{"failover: bad duration", []string{"failover", "status", "--from", dir, "--poll", "soon"}, "invalid value"},
		{"version: extra argument", []string{"version", "now"}, `unexpected argument "now"`},
		{"version: unknown flag", []string{"version", "--short"}, "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envWebhookTargets, "")
			code, stdout, stderr := drctl(tc.args...)
			assert.Equal(t, 2, code, "stderr: %s", stderr)
			assert.Empty(t, stdout, "a usage error prints nothing on stdout")
			assert.Contains(t, stderr, tc.want)
		})
	}
}

// drctl help <command> prints what drctl <command> -h prints: the command's flags and, for the
// commands with --json, the document's shape; on stdout, exit 0.
func TestHelp(t *testing.T) {
	cases := []struct {
		cmd  []string
		want []string
	}{
		{[]string{"list"}, []string{"-from", "-trust-key", "--json prints one document", `"backups"`}},
		{[]string{"verify"}, []string{"-identity", "-drill-database-url", "--json prints one document", `"verification"`}},
		{[]string{"restore"}, []string{"-database-url", "-dry-run", "PGPASSWORD", "--json prints one document", `"steps"`}},
		{[]string{"status"}, []string{"-notify", "3 unknown", "usage error", "--json prints one document", `"verdict"`}},
		{[]string{"settings"}, []string{"-settings", "--json prints one document", `"document"`}},
		{[]string{"settings", "show"}, []string{"-settings", `"document"`}},
		{[]string{"failover"}, []string{"drctl failover plan", "Exit status"}},
		{[]string{"failover", "start"}, []string{"-confirm", "-mode", "-to"}},
		{[]string{"version"}, []string{"drctl <version>"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.cmd, " "), func(t *testing.T) {
			code, help, stderr := drctl(append([]string{"help"}, tc.cmd...)...)
			require.Equal(t, 0, code, stderr)
			assert.Empty(t, stderr)
			for _, w := range tc.want {
				assert.Contains(t, help, w)
			}
			code, dashH, _ := drctl(append(tc.cmd, "-h")...)
			assert.Equal(t, 0, code)
			assert.Equal(t, help, dashH, "help %s and %s -h print the same", tc.cmd[0], tc.cmd[0])
		})
	}
	code, out, _ := drctl("help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "Commands:")
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		code, out, errOut := drctl(args...)
		assert.Equal(t, 0, code, errOut)
		assert.Equal(t, "drctl "+version+"\n", out, args)
	}
}

// listJSON is the document of drctl list --json.
type listJSON struct {
	Destination string `json:"destination"`
	Backups     []struct {
		ID               string            `json:"id"`
		StartedAt        time.Time         `json:"started_at"`
		Components       format.Components `json:"components"`
		SizeBytes        int64             `json:"size_bytes"`
		Signer           string            `json:"signer"`
		SignedByTrustKey bool              `json:"signed_by_trust_key"`
		Untrusted        string            `json:"untrusted"`
		Verification     *struct {
			Outcome string `json:"outcome"`
		} `json:"verification"`
	} `json:"backups"`
	Error string `json:"error"`
}

// decodeOne parses stdout as exactly one JSON document: nothing may follow it.
func decodeOne(t *testing.T, stdout string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	var doc json.RawMessage
	require.NoError(t, dec.Decode(&doc), stdout)
	_, err := dec.Token()
	require.ErrorIs(t, err, io.EOF, "stdout holds one JSON document and nothing else:\n%s", stdout)
	require.NoError(t, json.Unmarshal(doc, v))
}

func TestListJSON(t *testing.T) {
	dir, id, key := configDestination(t)
	code, out, errOut := drctl("list", "--from", dir, "--json", "--trust-key", key.PublicKey().String())
	require.Equal(t, 0, code, errOut)
	var l listJSON
	decodeOne(t, out, &l)
	assert.Equal(t, dir, l.Destination)
	require.Len(t, l.Backups, 1)
	b := l.Backups[0]
	assert.Equal(t, id, b.ID)
	assert.Equal(t, format.Components{Config: true}, b.Components)
	assert.Equal(t, key.PublicKey().Fingerprint(), b.Signer)
	assert.True(t, b.SignedByTrustKey)
	assert.Empty(t, b.Untrusted)
	assert.Nil(t, b.Verification, "never verified")
	assert.Positive(t, b.SizeBytes)
	assert.WithinDuration(t, time.Now(), b.StartedAt, time.Minute)

	// Another key: the backup is listed as untrusted, saying why.
	other, err := format.GenerateSigningKey()
	require.NoError(t, err)
	code, out, errOut = drctl("list", "--from", dir, "--json", "--trust-key", other.PublicKey().String())
	require.Equal(t, 0, code, errOut)
	decodeOne(t, out, &l)
	assert.False(t, l.Backups[0].SignedByTrustKey)
	assert.Contains(t, l.Backups[0].Untrusted, "not by the --trust-key")

	// An empty destination is an empty list, not null; the note goes to stderr in text form.
	empty := t.TempDir()
	code, out, _ = drctl("list", "--from", empty, "--json")
	require.Equal(t, 0, code)
	assert.JSONEq(t, `{"destination":"`+empty+`","backups":[]}`, out)
	code, out, errOut = drctl("list", "--from", empty)
	require.Equal(t, 0, code)
	assert.Contains(t, errOut, "no complete backups at")
	assert.NotContains(t, out, "no complete backups")
}

// verifyJSON is the document of drctl verify --json.
type verifyJSON struct {
	BackupID     string               `json:"backup_id"`
	Destination  string               `json:"destination"`
	Signer       string               `json:"signer"`
	SignedByKey  bool                 `json:"signed_by_trust_key"`
	Untrusted    string               `json:"untrusted"`
	Saved        bool                 `json:"saved"`
	Verification *format.Verification `json:"verification"`
	Error        string               `json:"error"`
}

func TestVerifyJSON(t *testing.T) {
	dir, id, key := configDestination(t)
	code, out, errOut := drctl("verify", "--from", dir, "--json", "--save", "--trust-key", key.PublicKey().String())
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "verifying backup "+id, "progress goes to stderr")
	var v verifyJSON
	decodeOne(t, out, &v)
	assert.Equal(t, id, v.BackupID)
	assert.True(t, v.SignedByKey)
	assert.Empty(t, v.Untrusted)
	assert.True(t, v.Saved)
	require.NotNil(t, v.Verification)
	assert.Equal(t, format.OutcomePassed, v.Verification.Outcome)
	assert.NotEmpty(t, v.Verification.Checks)
	assert.Empty(t, v.Error)

	// --save wrote verification.json: list now shows it.
	code, out, _ = drctl("list", "--from", dir, "--json")
	require.Equal(t, 0, code)
	var l listJSON
	decodeOne(t, out, &l)
	require.NotNil(t, l.Backups[0].Verification)
	assert.Equal(t, format.OutcomePassed, l.Backups[0].Verification.Outcome)

	// A damaged backup: exit 1, the document still on stdout, saying what failed.
	damageObject(t, dir, id)
	code, out, errOut = drctl("verify", "--from", dir, "--id", id, "--json")
	assert.Equal(t, 1, code, errOut)
	decodeOne(t, out, &v)
	assert.Equal(t, format.OutcomeFailed, v.Verification.Outcome)
	assert.NotEmpty(t, v.Verification.Problems)
	assert.NotEmpty(t, v.Error)
	assert.Contains(t, errOut, "drctl verify: error:")
}

// damageObject flips a byte of one of the backup's objects (not its manifest).
func damageObject(t *testing.T, dir, id string) {
	t.Helper()
	var target string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || target != "" {
			return err
		}
		if strings.Contains(p, id) && !strings.Contains(filepath.Base(p), "manifest") && !strings.Contains(filepath.Base(p), "verification") {
			target = p
		}
		return nil
	}))
	require.NotEmpty(t, target, "an object of backup %s", id)
	b, err := os.ReadFile(target)
	require.NoError(t, err)
	require.NotEmpty(t, b)
	b[len(b)/2] ^= 0xff
	require.NoError(t, os.WriteFile(target, b, 0o600))
}

// restoreJSON is the document of drctl restore --json.
type restoreJSON struct {
	DryRun            bool               `json:"dry_run"`
	OK                bool               `json:"ok"`
	BackupID          string             `json:"backup_id"`
	Components        *format.Components `json:"components"`
	MattermostVersion string             `json:"mattermost_version"`
	TargetVersion     string             `json:"target_mattermost_version"`
	Trust             string             `json:"trust"`
	Steps             []string           `json:"steps"`
	Done              []string           `json:"done"`
	Error             string             `json:"error"`
}

func TestRestoreDryRunJSON(t *testing.T) {
	dir, id, key := configDestination(t)
	configDir := t.TempDir()
	args := []string{"restore", "--from", dir, "--trust-key", key.PublicKey().String(), "--config-dir", configDir, "--dry-run"}

	code, out, errOut := drctl(append(args, "--json", "--mattermost-version", "11.4.0")...)
	require.Equal(t, 0, code, errOut)
	var r restoreJSON
	decodeOne(t, out, &r)
	assert.True(t, r.DryRun)
	assert.True(t, r.OK)
	assert.Equal(t, id, r.BackupID)
	assert.Equal(t, &format.Components{Config: true}, r.Components)
	assert.Equal(t, "11.4.0", r.MattermostVersion)
	assert.Equal(t, "11.4.0", r.TargetVersion)
	assert.Contains(t, r.Trust, "the --trust-key")
	require.NotEmpty(t, r.Steps)
	assert.True(t, strings.HasPrefix(r.Steps[0], "check: "), r.Steps)
	assert.Contains(t, strings.Join(r.Steps, "\n"), "config: write config.json and the config files to "+configDir)
	assert.Empty(t, r.Done)
	assert.Contains(t, errOut, "dry run: backup "+id, "progress goes to stderr")
	assert.NoFileExists(t, filepath.Join(configDir, "config.json"), "a dry run changes nothing")

	// Text: the plan on stdout, the timestamped progress on stderr only.
	code, out, errOut = drctl(append(args, "--mattermost-version", "11.4.0")...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "1. check: ")
	assert.NotContains(t, out, "s] ", "no progress lines on stdout")
	assert.Contains(t, errOut, "s] step 1: check: ")

	// Refused: exit 1, the document says why.
	code, out, errOut = drctl(append(args, "--json", "--mattermost-version", "11.3.0")...)
	assert.Equal(t, 1, code, errOut)
	decodeOne(t, out, &r)
	assert.False(t, r.OK)
	assert.Contains(t, r.Error, "the target Mattermost 11.3.0 is older")
	assert.NotEmpty(t, r.Steps)
	assert.NoFileExists(t, filepath.Join(configDir, "config.json"))
}

// A real restore prints its result, and only that, on stdout.
func TestRestoreResultOnStdout(t *testing.T) {
	dir, id, key := configDestination(t)
	configDir := t.TempDir()
	code, out, errOut := drctl("restore", "--from", dir, "--trust-key", key.PublicKey().String(), "--config-dir", configDir,
		"--mattermost-version", "11.4.0", "--json")
	require.Equal(t, 0, code, errOut)
	var r restoreJSON
	decodeOne(t, out, &r)
	assert.False(t, r.DryRun)
	assert.True(t, r.OK)
	assert.Equal(t, id, r.BackupID)
	assert.Contains(t, r.Done, "config")
	assert.FileExists(t, filepath.Join(configDir, "config.json"))
	assert.Contains(t, errOut, "trust: backup "+id)
}
