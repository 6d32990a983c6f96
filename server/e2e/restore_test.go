//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// pngImage is a real image, so that Mattermost makes a thumbnail and a preview of it.
func pngImage(t *testing.T, w, h int, seed uint8) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x) + seed, uint8(y) * seed, uint8(x + y), 255})
		}
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// drctlBinary is the drctl that `make dist` built (built here when missing).
func drctlBinary(t *testing.T, env *harness.Env) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(env.Root, "dist", "drctl-*-linux-"+runtime.GOARCH))
	if len(matches) > 0 {
		return matches[0]
	}
	bin := filepath.Join(t.TempDir(), "drctl")
	out, err := exec.Command("go", "build", "-o", bin, "./server/cmd/drctl").CombinedOutput() //nolint:gosec // test build
	require.NoError(t, err, string(out))
	return bin
}

// content is what the proof creates on the first server and compares on the second.
type content struct {
	team                *model.Team
	public, private     *model.Channel
	files               map[string]string // file id -> sha256 of its content
	thumbs              map[string]string // file id -> sha256 of its thumbnail
	reacted, pinned     string            // post ids
	samlUser, emojiName string
	emojiSum, pictureID string
	pictureSum          string
	siteName            string
}

func createContent(ctx context.Context, t *testing.T, env *harness.Env) *content {
	c := env.Admin.Client
	cn := &content{files: map[string]string{}, thumbs: map[string]string{}, siteName: "Restore proof " + uniq("")}
	_, _, err := c.PatchConfig(ctx, &model.Config{
		ServiceSettings: model.ServiceSettings{EnableCustomEmoji: model.NewPointer(true)},
		TeamSettings:    model.TeamSettings{SiteName: model.NewPointer(cn.siteName)},
	})
	require.NoError(t, err)
	name := uniq("proof")
	cn.team, _, err = c.CreateTeam(ctx, &model.Team{Name: name, DisplayName: "Proof", Type: model.TeamOpen})
	require.NoError(t, err)
	_, _, err = c.AddTeamMember(ctx, cn.team.Id, env.Member.Id)
	require.NoError(t, err)
	cn.public, _, err = c.CreateChannel(ctx, &model.Channel{TeamId: cn.team.Id, Name: "town-hall", DisplayName: "Town hall", Type: model.ChannelTypeOpen})
	require.NoError(t, err)
	cn.private, _, err = c.CreateChannel(ctx, &model.Channel{TeamId: cn.team.Id, Name: "secret-plans", DisplayName: "Secret plans", Type: model.ChannelTypePrivate})
	require.NoError(t, err)
	for i := 0; i < 40; i++ {
		ch := cn.public
		if i%3 == 0 {
			ch = cn.private
		}
		root, _, err := c.CreatePost(ctx, &model.Post{ChannelId: ch.Id, Message: fmt.Sprintf("message %d in %s: the quarterly numbers look **fine**", i, ch.Name)})
		require.NoError(t, err)
		if i%4 == 0 {
			_, _, err = c.CreatePost(ctx, &model.Post{ChannelId: ch.Id, RootId: root.Id, Message: fmt.Sprintf("reply to %d", i)})
			require.NoError(t, err)
		}
		if i == 5 {
			cn.reacted = root.Id
			for _, emoji := range []string{"+1", "tada"} {
				_, _, err = c.SaveReaction(ctx, &model.Reaction{UserId: env.Admin.Id, PostId: root.Id, EmojiName: emoji})
				require.NoError(t, err)
			}
		}
		if i == 7 {
			cn.pinned = root.Id
			_, err = c.PinPost(ctx, root.Id)
			require.NoError(t, err)
		}
	}
	// Files: images (thumbnail and preview made by the server) and a text file.
	var fileIDs []string
	for i, data := range [][]byte{pngImage(t, 640, 480, 3), pngImage(t, 300, 200, 9), []byte(strings.Repeat("minutes of the meeting\n", 400))} {
		fname := fmt.Sprintf("attachment-%d.png", i)
		if i == 2 {
			fname = "minutes.txt"
		}
		resp, _, err := c.UploadFile(ctx, data, cn.public.Id, fname)
		require.NoError(t, err)
		fi := resp.FileInfos[0]
		cn.files[fi.Id] = sha(data)
		fileIDs = append(fileIDs, fi.Id)
	}
	_, _, err = c.CreatePost(ctx, &model.Post{ChannelId: cn.public.Id, Message: "the attachments", FileIds: fileIDs})
	require.NoError(t, err)
	for _, id := range fileIDs[:2] {
		var thumb []byte
		require.Eventually(t, func() bool {
			thumb, _, err = c.GetFileThumbnail(ctx, id)
			return err == nil && len(thumb) > 0
		}, 30*time.Second, 200*time.Millisecond, "thumbnail of %s", id)
		cn.thumbs[id] = sha(thumb)
	}
	// A profile image, a custom emoji, a SAML user.
	picture := pngImage(t, 128, 128, 17)
	_, err = c.SetProfileImage(ctx, env.Member.Id, picture)
	require.NoError(t, err)
	cn.pictureID = env.Member.Id
	got, _, err := c.GetProfileImage(ctx, env.Member.Id, "")
	require.NoError(t, err)
	cn.pictureSum = sha(got)
	cn.emojiName = strings.ReplaceAll(uniq("proof"), "-", "_")
	emojiImg := pngImage(t, 64, 64, 23)
	_, _, err = c.CreateEmoji(ctx, &model.Emoji{Name: cn.emojiName, CreatorId: env.Admin.Id}, emojiImg, "emoji.png")
	require.NoError(t, err)
	cn.emojiSum = sha(emojiImg)
	saml := ssoUser(ctx, t, env, uniq("saml"), model.UserAuthServiceSaml, "saml-nameid-"+uniq(""))
	cn.samlUser = saml.Id
	return cn
}

// TestRestoreOntoNewServer is the proof: content on the first server, an encrypted backup to
// MinIO, then `drctl restore` onto a NEW PostgreSQL cluster and empty folders, a second
// Mattermost started on the result, and the two compared through the REST API.
func TestRestoreOntoNewServer(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	bin, err := harness.MinIOBinaries(ctx, env.Root)
	require.NoError(t, err)
	minio, err := harness.StartMinIO(ctx, bin)
	require.NoError(t, err)
	defer minio.Stop()
	require.NoError(t, minio.MakeBucket(ctx, "dr-restore"))
	identity, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{
		"backups3bucket": "dr-restore", "backups3prefix": "site-a", "backups3endpoint": minio.Endpoint, "backups3pathstyle": true,
		"backups3accesskeyid": minio.AccessKey, "backups3secretaccesskey": minio.SecretKey, "backups3region": harness.MinIORegion,
		"backupagerecipients": identity.Recipient().String(),
	}))
	t.Cleanup(func() {
		_ = env.PatchPluginSettings(context.Background(), map[string]any{"backups3bucket": "", "backups3prefix": "", "backups3endpoint": "",
			"backups3accesskeyid": "", "backups3secretaccesskey": "", "backups3region": "", "backupagerecipients": ""})
	})

	cn := createContent(ctx, t, env)
	// A SAML certificate beside config.json, as an admin who set up SAML has.
	samlCert := "-----BEGIN CERTIFICATE-----\nMIIproof" + uniq("") + "\n-----END CERTIFICATE-----\n"
	require.NoError(t, os.WriteFile(filepath.Join(env.MM.Dir, "config", "saml-idp.crt"), []byte(samlCert), 0o600))
	t.Cleanup(func() { _ = os.Remove(filepath.Join(env.MM.Dir, "config", "saml-idp.crt")) })
	// Plugin KV data: a pinned backup is recorded in the plugin's KV store.
	firstID, _ := runBackup(ctx, t, env, "--destination s3")
	require.Contains(t, cmd(ctx, t, env, "/dr backup pin "+firstID), "pinned")
	var pinsBefore string
	require.NoError(t, mmDB(t, env).QueryRowContext(ctx, `SELECT encode(PValue, 'escape') FROM PluginKeyValueStore WHERE PluginId = $1 AND PKey = 'backup/pins'`, harness.PluginID).Scan(&pinsBefore))
	require.Contains(t, pinsBefore, firstID)
	id, result := runBackup(ctx, t, env, "--destination s3")
	require.Contains(t, result, "**s3**")

	// Snapshot the first server's state as the backup saw it (nothing in these changes after).
	c1 := env.Admin.Client
	users1 := allUsers(ctx, t, c1)
	channels1 := teamChannels(ctx, t, c1, cn.team.Id)
	posts1 := map[string]map[string]string{}
	for _, ch := range []*model.Channel{cn.public, cn.private} {
		posts1[ch.Id] = channelPosts(ctx, t, c1, ch.Id)
	}

	// The new machine: a new PostgreSQL cluster and empty folders.
	newDir := t.TempDir()
	// Not under t.TempDir(): its parent is private to root, and the cluster runs as postgres.
	pgDir, err := os.MkdirTemp("", "restore-proof-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(pgDir) })
	pg2, err := harness.StartPostgres(ctx, pgDir)
	require.NoError(t, err)
	defer pg2.Stop()
	require.NoError(t, pg2.CreateDatabase(ctx, "mattermost"))
	mmDir := filepath.Join(newDir, "mattermost")
	keyFile := filepath.Join(newDir, "identity.txt")
	require.NoError(t, os.WriteFile(keyFile, []byte(identity.String()+"\n"), 0o600))
	build, err := harness.ServerBuild(ctx, env.Root)
	require.NoError(t, err)
	drctl := drctlBinary(t, env)
	run := func(args ...string) (string, error) {
		c := exec.CommandContext(ctx, drctl, args...) //nolint:gosec // the built tool
		c.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+minio.AccessKey, "AWS_SECRET_ACCESS_KEY="+minio.SecretKey, "AWS_REGION="+harness.MinIORegion)
		out, err := c.CombinedOutput()
		return string(out), err
	}
	from := []string{"--from", "s3://dr-restore/site-a", "--s3-endpoint", minio.Endpoint, "--s3-path-style"}

	out, err := run(append([]string{"list"}, from...)...)
	require.NoError(t, err, out)
	assert.Contains(t, out, id)

	restoreArgs := append([]string{"restore"}, from...)
	restoreArgs = append(restoreArgs, "--id", id, "--identity", keyFile, "--database-url", pg2.URL("mattermost"),
		"--config-dir", filepath.Join(mmDir, "config"), "--data-dir", filepath.Join(mmDir, "data"),
		"--mattermost-bin", filepath.Join(build, "bin", "mattermost"), "--jobs", "4")

	// Refusals first: each changes nothing and exits non-zero.
	refusals := []struct {
		name string
		args []string
		want string
	}{
		{"a backup newer than the target", []string{"--mattermost-version", "9.5.0"}, "is older and cannot run"},
		{"unknown id", []string{"--id", "20200101T000000Z-0000"}, "no such backup"},
		{"non-empty target database", []string{"--database-url", env.PG.URL("mattermost")}, "is not empty"},
	}
	for _, r := range refusals {
		out, err := run(append(append([]string{}, restoreArgs...), r.args...)...)
		require.Error(t, err, "%s: %s", r.name, out)
		assert.Contains(t, out, r.want, r.name)
	}
	out, err = run("list", "--from", "s3://dr-restore/site-a", "--s3-endpoint", "http://127.0.0.1:1", "--s3-path-style")
	require.Error(t, err, out)
	assert.Contains(t, out, "error", "an unreachable destination is a clear error")
	_, statErr := os.Stat(filepath.Join(mmDir, "config", "config.json"))
	require.True(t, os.IsNotExist(statErr), "a refused restore wrote nothing")

	out, err = run(append(append([]string{}, restoreArgs...), "--dry-run")...)
	require.NoError(t, err, out)
	assert.Contains(t, out, "step 3: database: pg_restore -j 4")

	// The restore, timed until the second server answers: the RTO for this data size.
	start := time.Now()
	out, err = run(restoreArgs...)
	require.NoError(t, err, out)
	t.Logf("drctl restore:\n%s", out)
	mm2, err := harness.StartMattermost(ctx, harness.MattermostOptions{Build: build, Dir: mmDir, DataSource: pg2.URL("mattermost"), KeepConfig: true})
	require.NoError(t, err)
	defer mm2.Stop()
	rto := time.Since(start)
	t.Logf("RTO: %s from the start of drctl restore until the second server answered", rto.Round(10*time.Millisecond))
	fmt.Printf("restore proof: RTO %s (drctl restore + server start)\n", rto.Round(10*time.Millisecond))

	c2 := model.NewAPIv4Client(mm2.URL)
	_, _, err = c2.Login(ctx, env.Admin.Username, env.Admin.Password)
	require.NoError(t, err, "the admin logs in on the restored server with the same password")

	// Users, with their auth service and auth data.
	users2 := allUsers(ctx, t, c2)
	for id, u1 := range users1 {
		u2, ok := users2[id]
		if !assert.True(t, ok, "user %s restored", u1.Username) {
			continue
		}
		assert.Equal(t, u1.Username, u2.Username)
		assert.Equal(t, u1.Email, u2.Email)
		assert.Equal(t, u1.AuthService, u2.AuthService, u1.Username)
		assert.Equal(t, u1.Roles, u2.Roles, u1.Username)
	}
	saml2, _, err := c2.GetUser(ctx, cn.samlUser, "")
	require.NoError(t, err)
	assert.Equal(t, model.UserAuthServiceSaml, saml2.AuthService)
	saml1, _, err := c1.GetUser(ctx, cn.samlUser, "")
	require.NoError(t, err)
	assert.Equal(t, saml1.AuthData, saml2.AuthData)

	// Channels, posts per channel, messages, reactions, pinned posts.
	assert.Equal(t, channels1, teamChannels(ctx, t, c2, cn.team.Id))
	for chID, want := range posts1 {
		assert.Equal(t, want, channelPosts(ctx, t, c2, chID), "posts of channel %s", chID)
	}
	r1, _, err := c1.GetReactions(ctx, cn.reacted)
	require.NoError(t, err)
	r2, _, err := c2.GetReactions(ctx, cn.reacted)
	require.NoError(t, err)
	assert.Equal(t, reactionNames(r1), reactionNames(r2))
	assert.Len(t, r2, 2)
	pinned, _, err := c2.GetPinnedPosts(ctx, cn.public.Id, "")
	require.NoError(t, err)
	assert.Contains(t, pinned.Order, cn.pinned)

	// Files by hash, thumbnails, the profile image, the custom emoji.
	for id, want := range cn.files {
		data, _, err := c2.GetFile(ctx, id)
		require.NoError(t, err, id)
		assert.Equal(t, want, sha(data), "file %s", id)
	}
	for id, want := range cn.thumbs {
		data, _, err := c2.GetFileThumbnail(ctx, id)
		require.NoError(t, err, id)
		assert.Equal(t, want, sha(data), "thumbnail of %s", id)
	}
	pic, _, err := c2.GetProfileImage(ctx, cn.pictureID, "")
	require.NoError(t, err)
	assert.Equal(t, cn.pictureSum, sha(pic))
	emoji, _, err := c2.GetEmojiByName(ctx, cn.emojiName)
	require.NoError(t, err)
	img, _, err := c2.GetEmojiImage(ctx, emoji.Id)
	require.NoError(t, err)
	assert.Equal(t, cn.emojiSum, sha(img))

	// Config values, the SAML certificate, and the plugin's KV data.
	cert, err := os.ReadFile(filepath.Join(mmDir, "config", "saml-idp.crt"))
	require.NoError(t, err)
	assert.Equal(t, samlCert, string(cert))
	cfg2, _, err := c2.GetConfig(ctx)
	require.NoError(t, err)
	assert.Equal(t, cn.siteName, *cfg2.TeamSettings.SiteName)
	assert.True(t, *cfg2.ServiceSettings.EnableCustomEmoji)
	db2, err := pg2.Open("mattermost")
	require.NoError(t, err)
	defer db2.Close()
	var pinsAfter string
	require.NoError(t, db2.QueryRowContext(ctx, `SELECT encode(PValue, 'escape') FROM PluginKeyValueStore WHERE PluginId = $1 AND PKey = 'backup/pins'`, harness.PluginID).Scan(&pinsAfter))
	assert.Equal(t, pinsBefore, pinsAfter)

	// Running the same restore again resumes: every step is already done.
	out, err = run(restoreArgs...)
	require.NoError(t, err, out)
	assert.Contains(t, out, "database: already restored by an earlier run")
}

func allUsers(ctx context.Context, t *testing.T, c *model.Client4) map[string]*model.User {
	t.Helper()
	out := map[string]*model.User{}
	for page := 0; ; page++ {
		us, _, err := c.GetUsers(ctx, page, 200, "")
		require.NoError(t, err)
		for _, u := range us {
			out[u.Id] = u
		}
		if len(us) < 200 {
			return out
		}
	}
}

func teamChannels(ctx context.Context, t *testing.T, c *model.Client4, teamID string) []string {
	t.Helper()
	chs, _, err := c.GetAllChannels(ctx, 0, 1000, "")
	require.NoError(t, err)
	var out []string
	for _, ch := range chs {
		if ch.TeamId == teamID {
			out = append(out, ch.Id+" "+ch.Name+" "+string(ch.Type))
		}
	}
	sort.Strings(out)
	return out
}

// channelPosts is every post of a channel: id -> message (with its root id).
func channelPosts(ctx context.Context, t *testing.T, c *model.Client4, channelID string) map[string]string {
	t.Helper()
	pl, _, err := c.GetPostsForChannel(ctx, channelID, 0, 1000, "", false, false)
	require.NoError(t, err)
	out := map[string]string{}
	for id, p := range pl.Posts {
		out[id] = p.RootId + "|" + p.Message
	}
	return out
}

func reactionNames(rs []*model.Reaction) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.UserId+":"+r.EmojiName)
	}
	sort.Strings(out)
	return out
}
