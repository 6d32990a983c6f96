//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// S3 replication between two real MinIO servers, through the plugin: healthy, then the
// replica stopped while files are written (pending/failed), then back.
func TestStatusS3Replication(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin, err := harness.MinIOBinaries(ctx, env.Root)
	require.NoError(t, err)
	pair, err := harness.StartMinIOPair(ctx, bin, "mm-files-east", "mm-files-west")
	require.NoError(t, err)
	defer pair.Stop()
	put := func(key string) {
		_, err := pair.A.S3Client().PutObject(ctx, &s3api.PutObjectInput{Bucket: aws.String("mm-files-east"), Key: aws.String(key), Body: bytes.NewReader([]byte("file " + key))})
		require.NoError(t, err)
	}
	put("data/2026/one.txt")
	_, err = harness.WaitReplicationStatus(ctx, pair.A, "mm-files-east", "data/2026/one.txt", "COMPLETED")
	require.NoError(t, err)

	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{
		"drprimaryregion": harness.MinIORegion, "drsecondaryregion": harness.MinIORegion,
		"drs3primarybucket": "mm-files-east", "drs3secondarybucket": "mm-files-west",
		"drs3primaryendpoint": pair.A.Endpoint, "drs3secondaryendpoint": pair.B.Endpoint, "drs3pathstyle": true,
		"drs3accesskeyid": pair.A.AccessKey, "drs3secretaccesskey": pair.A.SecretKey,
	}))
	t.Cleanup(func() {
		_ = env.PatchPluginSettings(context.Background(), map[string]any{"drprimaryregion": "", "drsecondaryregion": "", "drs3primarybucket": "", "drs3secondarybucket": "",
			"drs3primaryendpoint": "", "drs3secondaryendpoint": "", "drs3pathstyle": false, "drs3accesskeyid": "", "drs3secretaccesskey": ""})
	})
	st := getStatus(ctx, t, env, true)
	state, summary := resultOf(st, "s3")
	assert.Equal(t, "healthy", state, summary)

	// The replica goes away; new files cannot replicate.
	pair.B.Kill()
	for _, k := range []string{"data/2026/two.txt", "data/2026/three.txt", "data/2026/four.txt"} {
		put(k)
	}
	require.Eventually(t, func() bool {
		s, _ := resultOf(getStatus(ctx, t, env, true), "s3")
		return s == "degraded" || s == "critical" || s == "unknown"
	}, time.Minute, 2*time.Second)
	text := cmd(ctx, t, env, "/dr status --fresh --verbose")
	assert.Contains(t, text, "mm-files-east")
	assert.NotContains(t, text, pair.A.SecretKey)
	require.NoError(t, pair.B.Restart(ctx))
}

// An identity provider that goes down: the status names it, counts its users whose sessions
// end within a day, and suggests the fallback command.
func TestStatusIdentityProvider(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	gitlab := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path})
	}))
	c := env.Admin.Client
	_, _, err := c.PatchConfig(ctx, &model.Config{GitLabSettings: model.SSOSettings{
		Enable: model.NewPointer(true), Id: model.NewPointer("dr-e2e"), Secret: model.NewPointer("gitlab-secret-value"),
		AuthEndpoint: model.NewPointer(gitlab.URL + "/oauth/authorize"), TokenEndpoint: model.NewPointer(gitlab.URL + "/oauth/token"),
		UserAPIEndpoint: model.NewPointer(gitlab.URL + "/api/v4/user"),
	}})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _, _ = c.PatchConfig(context.Background(), &model.Config{GitLabSettings: model.SSOSettings{Enable: model.NewPointer(false)}})
	})
	u := ssoUser(ctx, t, env, uniq("gl"), model.UserAuthServiceGitlab, "gitlab-"+uniq(""))
	// This user's only session ends in an hour.
	_, err = mmDB(t, env).ExecContext(ctx, `UPDATE Sessions SET ExpiresAt = $1 WHERE UserId = $2`, model.GetMillis()+3600_000, u.Id)
	require.NoError(t, err)

	st := getStatus(ctx, t, env, true)
	state, summary := resultOf(st, "idp")
	assert.Equal(t, "healthy", state, summary)

	gitlab.Close()
	st = getStatus(ctx, t, env, true)
	state, summary = resultOf(st, "idp")
	assert.Equal(t, "critical", state, summary)
	var reasons []string
	for _, r := range st.Reasons {
		reasons = append(reasons, r.Message)
	}
	all := strings.Join(reasons, "\n")
	assert.Contains(t, all, "gitlab")
	assert.Contains(t, all, "1 gitlab users have sessions that end within 24 hours")
	text := cmd(ctx, t, env, "/dr status --fresh")
	assert.Contains(t, text, "/dr sso fallback --all --service gitlab")
	assert.NotContains(t, text, "gitlab-secret-value")
}
