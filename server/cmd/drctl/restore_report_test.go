package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/restore"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

// The tap keeps the steps and the trust line however the progress is split into writes, and
// passes every byte on.
func TestStepTap(t *testing.T) {
	progress := "[   0.0s] trust: backup X is signed by SHA256:abc, the --trust-key\n" +
		"[   0.0s] dry run: backup X (config); nothing will be changed\n" +
		"[   0.0s] step 1: check: the target database is empty\n" +
		"[  12.5s] step 2: config: write config.json to /c\n" +
		"[   0.1s] check: backup X (config) taken …; step 9: not a plan line\n" +
		"[   0.1s] step 3: files: last line without a newline"
	cases := []struct {
		name  string
		chunk int
	}{{"whole", len(progress)}, {"byte by byte", 1}, {"in sevens", 7}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var w bytes.Buffer
			tap := &stepTap{w: &w}
			for i := 0; i < len(progress); i += tc.chunk {
				n, err := tap.Write([]byte(progress[i:min(i+tc.chunk, len(progress))]))
				require.NoError(t, err)
				require.Equal(t, min(tc.chunk, len(progress)-i), n)
			}
			tap.flush()
			assert.Equal(t, progress, w.String())
			assert.Equal(t, []string{"check: the target database is empty", "config: write config.json to /c", "files: last line without a newline"}, tap.steps)
			assert.Equal(t, "backup X is signed by SHA256:abc, the --trust-key", tap.trust)
		})
	}
}

// A manifest that is not trusted when the report reads it again (the storage changed it after
// the restore read it) lends the report nothing.
func TestRestoreReportTrustsTheManifestAgain(t *testing.T) {
	dir, id, key := configDestination(t)
	st, err := local.New(dir)
	require.NoError(t, err)
	other, err := format.GenerateSigningKey()
	require.NoError(t, err)
	res := &restore.Result{BackupID: id}
	cases := []struct {
		name   string
		key    format.PublicKey
		allow  bool
		filled bool
	}{
		{"signed by the --trust-key", key.PublicKey(), false, true},
		{"signed by another key", other.PublicKey(), false, false},
		{"another key, --allow-untrusted", other.PublicKey(), true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := restore.Options{From: st, TrustKey: tc.key, AllowUntrusted: tc.allow}
			rep := newRestoreReport(context.Background(), &restoreFlags{dryRun: true}, o, res, &stepTap{}, nil)
			assert.Equal(t, id, rep.BackupID)
			assert.Equal(t, tc.filled, rep.Components != nil)
			assert.Equal(t, tc.filled, rep.MattermostVersion == "11.4.0")
			assert.NotNil(t, rep.Steps, "an empty plan is [], not null")
		})
	}
}
