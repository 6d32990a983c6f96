//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

var backupID = regexp.MustCompile("Backup `([0-9A-Za-z-]+)` completed")

// runBackup starts `/dr backup now …` and waits for the bot's result in the ops channel.
func runBackup(ctx context.Context, t *testing.T, env *harness.Env, args string) (id, result string) {
	t.Helper()
	since := model.GetMillis()
	text := cmd(ctx, t, env, strings.TrimSpace("/dr backup now "+args))
	require.Contains(t, text, "started", text)
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "Backup `", 5*time.Minute)
	require.NoError(t, err)
	m := backupID.FindStringSubmatch(post.Message)
	require.NotNil(t, m, "backup did not complete: %s", post.Message)
	return m[1], post.Message
}

func uploadFile(ctx context.Context, t *testing.T, env *harness.Env, name string, data []byte) *model.FileInfo {
	resp, _, err := env.Admin.Client.UploadFile(ctx, data, env.OpsChannel.Id, name)
	require.NoError(t, err)
	require.Len(t, resp.FileInfos, 1)
	return resp.FileInfos[0]
}

// A backup with no destination configured goes to ./dr-backups beside the server's ./data,
// holds database, config and files, and a second one copies no file content again.
func TestBackupLocalDefault(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for i := 0; i < 5; i++ {
		uploadFile(ctx, t, env, fmt.Sprintf("report-%d.txt", i), bytes.Repeat([]byte(fmt.Sprintf("line %d\n", i)), 1000+i))
	}
	id, result := runBackup(ctx, t, env, "")
	assert.Contains(t, result, "database+config+files")
	assert.Contains(t, result, "no destination is off-site", "a local-only backup says it is not off-site")

	dir := filepath.Join(env.MM.Dir, "dr-backups")
	raw, err := os.ReadFile(filepath.Join(dir, "backups", id, "manifest.json"))
	require.NoError(t, err, "the default destination is ./dr-backups in the server's folder")
	var m format.Manifest
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.Equal(t, format.StatusComplete, m.Status)
	assert.True(t, m.Components.Database && m.Components.Config && m.Components.Files)
	assert.NotEmpty(t, m.TableRowCounts["public.users"], "row counts recorded")
	require.NotNil(t, m.Files)
	assert.GreaterOrEqual(t, m.Files.Count, int64(5))
	assert.Equal(t, "11.4.0", m.MattermostVersion)
	assert.NotEmpty(t, m.DatabaseSchemaVersion)

	// Nothing changed: the second backup uploads no file content.
	id2, result2 := runBackup(ctx, t, env, "")
	assert.NotEqual(t, id, id2)
	raw, err = os.ReadFile(filepath.Join(dir, "backups", id2, "manifest.json"))
	require.NoError(t, err)
	var m2 format.Manifest
	require.NoError(t, json.Unmarshal(raw, &m2))
	assert.Zero(t, m2.Files.NewPoolObjects, result2)
	assert.Zero(t, m2.Files.BytesUploaded, result2)

	list := cmd(ctx, t, env, "/dr backup list")
	assert.Contains(t, list, id)
	assert.Contains(t, list, id2)
	show := cmd(ctx, t, env, "/dr backup show latest")
	assert.Contains(t, show, id2)
	assert.Contains(t, show, "`--verbose` lists them")
	assert.NotContains(t, show, "database.dump.zst", "the object table is behind --verbose")
	assert.Contains(t, cmd(ctx, t, env, "/dr backup show latest --verbose"), "database.dump.zst")
	assert.Regexp(t, `\| `+"`"+id2+"`"+` \|[^\n]*\| (yes|no) \| (yes|no) \|`, list, "booleans read yes/no")

	// Pin, refuse to delete while pinned, unpin, delete.
	assert.Contains(t, cmd(ctx, t, env, "/dr backup pin "+id), "pinned")
	assert.Contains(t, cmd(ctx, t, env, "/dr backup delete "+id+" --confirm"), "is pinned")
	assert.Contains(t, cmd(ctx, t, env, "/dr backup unpin "+id), "unpinned")
	assert.Contains(t, cmd(ctx, t, env, "/dr backup delete "+id), "--confirm")
	assert.Contains(t, cmd(ctx, t, env, "/dr backup delete "+id+" --confirm"), "deleted")
	_, err = os.Stat(filepath.Join(dir, "backups", id, "manifest.json"))
	assert.True(t, os.IsNotExist(err))
	assert.NotContains(t, cmd(ctx, t, env, "/dr backup list"), id)

	// REST.
	status, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/backups", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, string(body))
	assert.Contains(t, string(body), id2)
	status, body, err = env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/backups/nope", nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, status, string(body))

	// In the audit trail.
	assert.Contains(t, cmd(ctx, t, env, "/dr audit --action backup."), "backup.complete")
}

// The same backup also goes to S3 (MinIO) when a bucket is configured.
func TestBackupToS3(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin, err := harness.MinIOBinaries(ctx, env.Root)
	require.NoError(t, err)
	minio, err := harness.StartMinIO(ctx, bin)
	require.NoError(t, err)
	defer minio.Stop()
	require.NoError(t, minio.MakeBucket(ctx, "dr-backups"))
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{
		"backups3bucket": "dr-backups", "backups3prefix": "prod", "backups3endpoint": minio.Endpoint, "backups3pathstyle": true,
		"backups3accesskeyid": minio.AccessKey, "backups3secretaccesskey": minio.SecretKey, "backups3region": "us-east-1",
	}))
	t.Cleanup(func() {
		_ = env.PatchPluginSettings(context.Background(), map[string]any{"backups3bucket": "", "backups3prefix": "", "backups3endpoint": "", "backups3accesskeyid": "", "backups3secretaccesskey": "", "backups3region": ""})
	})
	uploadFile(ctx, t, env, "s3-test.bin", bytes.Repeat([]byte{7}, 4096))
	id, result := runBackup(ctx, t, env, "--destination s3")
	assert.Contains(t, result, "**s3**")
	assert.NotContains(t, result, minio.SecretKey, "no secret in posts")
	out, err := minio.MC(ctx, "ls", "--recursive", "local/dr-backups/prod/backups/"+id+"/")
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "manifest.json")
	assert.Contains(t, string(out), "database.dump.zst")
	assert.Contains(t, cmd(ctx, t, env, "/dr backup list"), id)

	assert.Contains(t, cmd(ctx, t, env, "/dr backup now --destination tape"), `unknown destination "tape"`)

	// MinIO dies in the middle of the upload: the backup fails and says where; after MinIO is
	// back, the next backup succeeds and nothing of the failed one is left in the bucket.
	bigFiles(t, env, 300)
	since := startBackup(ctx, t, env, "--destination s3 --only files")
	waitPhase(ctx, t, env, backup.PhaseFiles)
	minio.Kill()
	msg := failurePost(ctx, t, env, since)
	assert.Contains(t, msg, "destination s3")
	assert.NotContains(t, msg, minio.SecretKey)
	require.NoError(t, minio.Restart(ctx))
	id2, _ := runBackup(ctx, t, env, "--destination s3 --only database,config")
	out, err = minio.MC(ctx, "ls", "local/dr-backups/prod/backups/")
	require.NoError(t, err, string(out))
	folders := strings.Count(string(out), "/\n")
	assert.Equal(t, 2, folders, "only the two complete backups remain:\n%s", out)
	assert.Contains(t, string(out), id2)
	uploads, err := minio.S3Client().ListMultipartUploads(ctx, &s3api.ListMultipartUploadsInput{Bucket: aws.String("dr-backups")})
	require.NoError(t, err)
	assert.Empty(t, uploads.Uploads, "no incomplete multipart upload left")
}

// A schedule runs the backup by itself, once per slot across the cluster.
func TestBackupSchedule(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backupschedule": "* * * * *", "backupcomponents": "database,config"}))
	t.Cleanup(func() {
		_ = env.PatchPluginSettings(context.Background(), map[string]any{"backupschedule": "", "backupcomponents": "database,config,files"})
	})
	since := model.GetMillis()
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "completed", 200*time.Second)
	require.NoError(t, err, "no scheduled backup within two minutes of an every-minute schedule")
	assert.Contains(t, post.Message, "database+config")
	text := cmd(ctx, t, env, "/dr audit --action backup.complete --limit 5")
	assert.Contains(t, text, "| system |", "a scheduled backup is recorded under system")

	// The verification schedule verifies the latest backup, with a drill.
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backupschedule": "", "backupverifyschedule": "* * * * *", "backupverifydrill": true}))
	t.Cleanup(func() { _ = env.PatchPluginSettings(context.Background(), map[string]any{"backupverifyschedule": ""}) })
	since = model.GetMillis()
	post, err = env.WaitBotPost(ctx, env.OpsChannel.Id, since, "verified in", 200*time.Second)
	require.NoError(t, err, "no scheduled verification within two minutes of an every-minute schedule")
	assert.Contains(t, post.Message, "passed `restore drill`")
	text = cmd(ctx, t, env, "/dr audit --action backup.verify.complete --limit 5")
	assert.Contains(t, text, "| system |", "a scheduled verification is recorded under system")
}

// Retention removes exactly the backups no rule keeps, never a pinned one, and never a pool
// object a remaining backup refers to.
func TestBackupRetention(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{"backuplocaldirectory": dir, "backupkeeplast": 2, "backupkeepdaily": 0, "backupkeepweekly": 0, "backupkeepmonthly": 0}))
	t.Cleanup(func() {
		_ = env.PatchPluginSettings(context.Background(), map[string]any{"backuplocaldirectory": "", "backupkeeplast": 7, "backupkeepdaily": 7, "backupkeepweekly": 4, "backupkeepmonthly": 6})
	})
	var ids []string
	for i := 0; i < 4; i++ {
		// Each backup sees one file more: older backups refer to fewer pool objects.
		uploadFile(ctx, t, env, fmt.Sprintf("retention-%d.txt", i), []byte(fmt.Sprintf("retention %d %s", i, model.NewId())))
		id, result := runBackup(ctx, t, env, "")
		ids = append(ids, id)
		if i == 0 {
			assert.Contains(t, cmd(ctx, t, env, "/dr backup pin "+id), "pinned")
		}
		if i == 3 {
			assert.Contains(t, result, "retention deleted `"+ids[1]+"`", result)
		}
	}
	kept := completeIDs(ctx, t, dir)
	assert.Equal(t, map[string]bool{ids[0]: true, ids[2]: true, ids[3]: true}, kept, "the last 2 and the pinned one")

	store, err := local.New(dir)
	require.NoError(t, err)
	for id := range kept {
		man, err := format.ReadManifest(ctx, store, id)
		require.NoError(t, err)
		require.NoError(t, format.ReadIndex(ctx, store, man, nil, func(e format.IndexEntry) error {
			_, err := store.Stat(ctx, format.PoolKey(e.SHA256))
			assert.NoError(t, err, "pool object of %s in backup %s", e.Path, id)
			return nil
		}))
	}
	assert.Contains(t, cmd(ctx, t, env, "/dr backup unpin "+ids[0]), "unpinned")
}
