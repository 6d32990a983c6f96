// Package harness starts a real, throwaway Mattermost deployment on loopback for end-to-end
// tests and the demo: a PostgreSQL cluster, a Mattermost server built from its Go module, an
// admin, a non-admin, a team, the ops channel, and the plugin bundle uploaded and enabled.
package harness

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// PluginID is the id of the plugin under test.
const PluginID = "disaster-recovery"

// Names the harness gives to what it creates.
const (
	TeamName       = "dr-test"
	OpsChannelName = "dr-ops"
	BotUsername    = "dr-bot"
)

// User is a Mattermost user with a logged-in REST client.
type User struct {
	*model.User
	Password string
	Client   *model.Client4
}

// Options configures Start.
type Options struct {
	Bundle string    // plugin tar.gz to upload; default dist/disaster-recovery-<version>.tar.gz
	Log    io.Writer // progress messages; default os.Stderr
	// PostgresSettings are more settings of the cluster ("name=value", passed as -c), for
	// those only a restart could change (archive_mode, for the benchmark's pgBackRest).
	PostgresSettings []string
}

// Env is a running deployment.
type Env struct {
	Root       string // the plugin checkout
	Dir        string // everything the harness wrote, removed by Close
	Bundle     string
	PG         *Postgres
	MM         *Mattermost
	Admin      *User
	Member     *User // a non-admin member of the team
	Team       *model.Team
	OpsChannel *model.Channel
	BotUserID  string
	log        io.Writer
	failpoints string
}

// SetFailpoints makes the plugin kill itself (SIGKILL) when it reaches any of the named
// steps (see server/internal/failpoint); with no names it clears them.
func (env *Env) SetFailpoints(names ...string) error {
	if len(names) == 0 {
		err := os.Remove(env.failpoints)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return os.WriteFile(env.failpoints, []byte(strings.Join(names, "\n")+"\n"), 0o644)
}

// Start brings up the whole deployment. On error it has already cleaned up after itself.
func Start(ctx context.Context, o Options) (env *Env, err error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	env = &Env{Root: root, log: o.Log}
	if env.log == nil {
		env.log = os.Stderr
	}
	defer func() {
		if err != nil {
			env.Close()
			env = nil
		}
	}()
	env.Bundle = o.Bundle
	if env.Bundle == "" {
		if env.Bundle, err = DefaultBundle(root); err != nil {
			return env, err
		}
	}
	if env.Dir, err = os.MkdirTemp("", "dr-harness-"); err != nil {
		return env, err
	}
	if err = os.Chmod(env.Dir, 0o755); err != nil {
		return env, err
	}
	build, err := ServerBuild(ctx, root)
	if err != nil {
		return env, err
	}
	t0 := time.Now()
	if env.PG, err = StartPostgres(ctx, filepath.Join(env.Dir, "pg"), o.PostgresSettings...); err != nil {
		return env, err
	}
	if err = env.PG.CreateDatabase(ctx, "mattermost"); err != nil {
		return env, err
	}
	env.logf("PostgreSQL on 127.0.0.1:%d (%.1fs)", env.PG.Port, time.Since(t0).Seconds())
	t0 = time.Now()
	env.failpoints = filepath.Join(env.Dir, "failpoints")
	if env.MM, err = StartMattermost(ctx, MattermostOptions{Build: build, Dir: filepath.Join(env.Dir, "mattermost"), DataSource: env.PG.URL("mattermost"),
		ExtraEnv: map[string]string{"DR_FAILPOINTS": env.failpoints}}); err != nil {
		return env, err
	}
	env.logf("Mattermost on %s (%.1fs)", env.MM.URL, time.Since(t0).Seconds())
	if err = env.seed(ctx); err != nil {
		return env, fmt.Errorf("create users, team and channel: %w", err)
	}
	if err = env.InstallPlugin(ctx, env.Bundle); err != nil {
		return env, err
	}
	return env, nil
}

// DefaultBundle is what `make dist` writes for the version in plugin.json.
func DefaultBundle(root string) (string, error) {
	var manifest struct{ Version string }
	b, err := os.ReadFile(filepath.Join(root, "plugin.json"))
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		return "", fmt.Errorf("read plugin.json: %w", err)
	}
	p := filepath.Join(root, "dist", fmt.Sprintf("%s-%s.tar.gz", PluginID, manifest.Version))
	if !fileExists(p) {
		return "", fmt.Errorf("plugin bundle %s not found: run `make dist` first (make test and make demo do)", p)
	}
	return p, nil
}

func (env *Env) logf(format string, args ...any) {
	fmt.Fprintf(env.log, "harness: "+format+"\n", args...)
}

// seed creates the admin (the first user becomes system admin), a non-admin, a team and the
// ops channel.
func (env *Env) seed(ctx context.Context) error {
	var err error
	if env.Admin, err = env.CreateUser(ctx, "sysadmin", true); err != nil {
		return err
	}
	if env.Member, err = env.CreateUser(ctx, "member", false); err != nil {
		return err
	}
	team, _, err := env.Admin.Client.CreateTeam(ctx, &model.Team{Name: TeamName, DisplayName: "DR Test", Type: model.TeamOpen})
	if err != nil {
		return fmt.Errorf("create team: %w", err)
	}
	env.Team = team
	if _, _, err := env.Admin.Client.AddTeamMember(ctx, team.Id, env.Member.Id); err != nil {
		return fmt.Errorf("add member to team: %w", err)
	}
	ch, _, err := env.Admin.Client.CreateChannel(ctx, &model.Channel{TeamId: team.Id, Name: OpsChannelName, DisplayName: "DR Ops", Type: model.ChannelTypePrivate})
	if err != nil {
		return fmt.Errorf("create ops channel: %w", err)
	}
	env.OpsChannel = ch
	return nil
}

// CreateUser creates a user and logs it in. The first user of a server becomes system admin;
// later ones are created by the admin and promoted when admin is true.
func (env *Env) CreateUser(ctx context.Context, username string, admin bool) (*User, error) {
	u := &User{Password: "Dr-Harness-" + model.NewId()[:12] + "!", Client: model.NewAPIv4Client(env.MM.URL)}
	creator := u.Client
	if env.Admin != nil {
		creator = env.Admin.Client
	}
	created, _, err := creator.CreateUser(ctx, &model.User{Username: username, Email: username + "@example.com", Password: u.Password, EmailVerified: true})
	if err != nil {
		return nil, fmt.Errorf("create user %s: %w", username, err)
	}
	if admin && env.Admin != nil {
		if _, err := env.Admin.Client.UpdateUserRoles(ctx, created.Id, model.SystemUserRoleId+" "+model.SystemAdminRoleId); err != nil {
			return nil, fmt.Errorf("make %s a system admin: %w", username, err)
		}
	}
	if u.User, _, err = u.Client.Login(ctx, username, u.Password); err != nil {
		return nil, fmt.Errorf("log in as %s: %w", username, err)
	}
	return u, nil
}

// InstallPlugin uploads a bundle through POST /api/v4/plugins (replacing any installed
// version), points the plugin at the harness's ops channel and enables it.
func (env *Env) InstallPlugin(ctx context.Context, bundle string) error {
	c := env.Admin.Client
	f, err := os.Open(bundle)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, _, err := c.UploadPluginForced(ctx, f); err != nil {
		return fmt.Errorf("upload %s: %w", bundle, err)
	}
	if err := env.PatchPluginSettings(ctx, map[string]any{"opsteamname": TeamName, "opschannelname": OpsChannelName, "createopschannel": true}); err != nil {
		return err
	}
	if _, err := c.EnablePlugin(ctx, PluginID); err != nil {
		return fmt.Errorf("enable plugin: %w\n%s", err, env.MM.LogTail(30))
	}
	if err := env.WaitPluginRunning(ctx, time.Minute); err != nil {
		return err
	}
	bot, _, err := c.GetUserByUsername(ctx, BotUsername, "")
	if err != nil {
		return fmt.Errorf("the plugin did not create @%s: %w", BotUsername, err)
	}
	env.BotUserID = bot.Id
	return nil
}

// PatchPluginSettings merges settings (lower-case keys, as Mattermost stores them) into the
// plugin's configuration.
func (env *Env) PatchPluginSettings(ctx context.Context, settings map[string]any) error {
	c := env.Admin.Client
	cfg, _, err := c.GetConfig(ctx)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	current := cfg.PluginSettings.Plugins[PluginID]
	if current == nil {
		current = map[string]any{}
	}
	for k, v := range settings {
		current[strings.ToLower(k)] = v
	}
	if cfg.PluginSettings.Plugins == nil {
		cfg.PluginSettings.Plugins = map[string]map[string]any{}
	}
	cfg.PluginSettings.Plugins[PluginID] = current
	if _, _, err := c.UpdateConfig(ctx, cfg); err != nil {
		return fmt.Errorf("save plugin settings: %w", err)
	}
	return nil
}

// RestartPlugin disables and enables the plugin and waits until it runs.
func (env *Env) RestartPlugin(ctx context.Context) error {
	if _, err := env.Admin.Client.DisablePlugin(ctx, PluginID); err != nil {
		return fmt.Errorf("disable plugin: %w", err)
	}
	if _, err := env.Admin.Client.EnablePlugin(ctx, PluginID); err != nil {
		return fmt.Errorf("enable plugin: %w\n%s", err, env.MM.LogTail(30))
	}
	return env.WaitPluginRunning(ctx, time.Minute)
}

// WaitPluginRunning waits until the server reports the plugin as running.
func (env *Env) WaitPluginRunning(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		statuses, _, err := env.Admin.Client.GetPluginStatuses(ctx)
		if err == nil {
			for _, s := range statuses {
				if s.PluginId == PluginID && s.State == model.PluginStateRunning {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("plugin %s not running after %s (statuses: %v, err: %w)\n%s", PluginID, timeout, describe(statuses), err, env.MM.LogTail(30))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func describe(ss model.PluginStatuses) string {
	var parts []string
	for _, s := range ss {
		parts = append(parts, fmt.Sprintf("%s=%d %s", s.PluginId, s.State, s.Error))
	}
	return strings.Join(parts, ", ")
}

// Command runs a slash command as u in channelID (the ops channel when empty), as the web
// app would, through POST /api/v4/commands/execute.
func (env *Env) Command(ctx context.Context, u *User, channelID, text string) (*model.CommandResponse, error) {
	if channelID == "" {
		channelID = env.OpsChannel.Id
		if u != env.Admin {
			channelID = env.TownSquare(ctx)
		}
	}
	resp, _, err := u.Client.ExecuteCommandWithTeam(ctx, channelID, env.Team.Id, text)
	if err != nil {
		return nil, fmt.Errorf("run %q as %s: %w", text, u.Username, err)
	}
	return resp, nil
}

// TownSquare returns the team's default channel, which every member can use.
func (env *Env) TownSquare(ctx context.Context) string {
	ch, _, err := env.Admin.Client.GetChannelByName(ctx, model.DefaultChannelName, env.Team.Id, "")
	if err != nil {
		return ""
	}
	return ch.Id
}

// BotPosts returns the bot's posts in a channel, oldest first, created at or after since (ms).
func (env *Env) BotPosts(ctx context.Context, channelID string, since int64) ([]*model.Post, error) {
	// Page through the channel, newest first, down to since: GetPostsSince caps how many posts
	// it returns, and a busy ops channel (a failover posts every step) outgrows that cap.
	const perPage = 200
	var posts []*model.Post
	for page := 0; ; page++ {
		list, _, err := env.Admin.Client.GetPostsForChannel(ctx, channelID, page, perPage, "", false, false)
		if err != nil {
			return nil, fmt.Errorf("read posts of %s: %w", channelID, err)
		}
		older := false
		for _, id := range list.Order {
			p := list.Posts[id]
			if p.CreateAt < since {
				older = true
				continue
			}
			posts = append(posts, p)
		}
		if older || len(list.Order) < perPage {
			break
		}
	}
	sort.Slice(posts, func(i, j int) bool { return posts[i].CreateAt < posts[j].CreateAt })
	var out []*model.Post
	for _, p := range posts {
		if p.UserId == env.BotUserID {
			out = append(out, p)
		}
	}
	return out, nil
}

// WaitBotPost waits for a bot post in channelID, created at or after since, containing text.
func (env *Env) WaitBotPost(ctx context.Context, channelID string, since int64, text string, timeout time.Duration) (*model.Post, error) {
	deadline := time.Now().Add(timeout)
	for {
		posts, err := env.BotPosts(ctx, channelID, since)
		if err != nil {
			return nil, err
		}
		for _, p := range posts {
			if strings.Contains(p.Message, text) {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			var got []string
			for _, p := range posts {
				got = append(got, p.Message)
			}
			return nil, fmt.Errorf("no bot post containing %q within %s; bot posts: %q", text, timeout, got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// PluginRequest calls the plugin's REST API as u: method, path below
// /plugins/disaster-recovery, and an optional JSON body. It returns the status and body.
func (env *Env) PluginRequest(ctx context.Context, u *User, method, path string, body io.Reader) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, env.MM.URL+"/plugins/"+PluginID+path, body)
	if err != nil {
		return 0, nil, err
	}
	if u != nil {
		req.Header.Set("Authorization", "Bearer "+u.Client.AuthToken)
	}
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// OpenDB opens the Mattermost database, for checks and fixtures the REST API cannot do.
func (env *Env) OpenDB() (*sql.DB, error) {
	return sql.Open("pgx", env.PG.URL("mattermost"))
}

// Close stops everything and removes the harness's folder. Safe to call more than once.
func (env *Env) Close() {
	if env == nil {
		return
	}
	env.MM.Stop()
	env.PG.Stop()
	if env.Dir != "" && os.Getenv("DR_HARNESS_KEEP") == "" {
		if err := os.RemoveAll(env.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			env.logf("remove %s: %v", env.Dir, err)
		}
	}
	env.MM, env.PG = nil, nil
}
