package ssofallback

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin"
)

// ServerAPI is the part of Mattermost's plugin API the adapter uses.
type ServerAPI interface {
	GetUser(userID string) (*model.User, *model.AppError)
	GetUserByUsername(name string) (*model.User, *model.AppError)
	UpdateUserAuth(userID string, userAuth *model.UserAuth) (*model.UserAuth, *model.AppError)
	CreateSession(session *model.Session) (*model.Session, *model.AppError)
	RevokeSession(sessionID string) *model.AppError
	SendMail(to, subject, htmlBody string) *model.AppError
	GetConfig() *model.Config
}

var _ ServerAPI = plugin.API(nil)

// Adapter implements Mattermost on a real server: the plugin API where it has the call, the
// Mattermost database for what it lacks (listing users by SSO service and a user's sessions),
// and the server's own REST API, with a short-lived session of the acting admin, for setting
// an already-hashed password, which no plugin API call can do.
type Adapter struct {
	api    ServerAPI
	db     func() (*sql.DB, error)
	direct func(userID, message string) error
	http   *http.Client

	mu       sync.Mutex
	sessions map[string]*model.Session // actor id -> temporary admin session
}

// NewAdapter returns an adapter. db opens the Mattermost database (pluginapi's
// Store.GetMasterDB); direct sends a direct message from the bot.
func NewAdapter(api ServerAPI, db func() (*sql.DB, error), direct func(userID, message string) error) *Adapter {
	return &Adapter{api: api, db: db, direct: direct, http: &http.Client{Timeout: 30 * time.Second}, sessions: map[string]*model.Session{}}
}

func appErr(err *model.AppError) error {
	if err == nil {
		return nil
	}
	if err.StatusCode == http.StatusNotFound {
		return ErrUserNotFound
	}
	return err
}

// User implements Mattermost.
func (a *Adapter) User(id string) (*model.User, error) {
	u, err := a.api.GetUser(id)
	return u, appErr(err)
}

// UserByUsername implements Mattermost.
func (a *Adapter) UserByUsername(name string) (*model.User, error) {
	u, err := a.api.GetUserByUsername(name)
	return u, appErr(err)
}

// UpdateAuth implements Mattermost.
func (a *Adapter) UpdateAuth(userID, service string, data *string) error {
	_, err := a.api.UpdateUserAuth(userID, &model.UserAuth{AuthService: service, AuthData: data})
	if err != nil {
		return err
	}
	return nil
}

// UserIDsByAuthService implements Mattermost.
func (a *Adapter) UserIDsByAuthService(service string) ([]string, error) {
	return a.ids(`SELECT Id FROM Users WHERE AuthService = $1 AND DeleteAt = 0 ORDER BY Username`, service)
}

// AuthDataOwner implements Mattermost.
func (a *Adapter) AuthDataOwner(service, data, exceptUserID string) (string, error) {
	ids, err := a.ids(`SELECT Id FROM Users WHERE AuthService = $1 AND AuthData = $2 AND Id <> $3 LIMIT 1`, service, data, exceptUserID)
	if err != nil || len(ids) == 0 {
		return "", err
	}
	return ids[0], nil
}

// KeysWithPrefix lists the plugin's KV keys with a prefix in one query (see
// Service.WithKeyLister for why the KV API's paging is not enough).
func (a *Adapter) KeysWithPrefix(pluginID string) KeyLister {
	return func(prefix string) ([]string, error) {
		like := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(prefix) + "%"
		return a.ids(`SELECT PKey FROM PluginKeyValueStore WHERE PluginId = $1 AND PKey LIKE $2 AND (ExpireAt = 0 OR ExpireAt > $3) ORDER BY PKey`,
			pluginID, like, model.GetMillis())
	}
}

// SessionsSince implements Mattermost. The plugin API has no call that lists sessions.
func (a *Adapter) SessionsSince(userID string, sinceMs int64) ([]string, error) {
	return a.ids(`SELECT Id FROM Sessions WHERE UserId = $1 AND CreateAt >= $2`, userID, sinceMs)
}

func (a *Adapter) ids(query string, args ...any) ([]string, error) {
	db, err := a.db()
	if err != nil {
		return nil, fmt.Errorf("open the Mattermost database: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query the Mattermost database: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// RevokeSession implements Mattermost.
func (a *Adapter) RevokeSession(id string) error {
	if err := a.api.RevokeSession(id); err != nil {
		return err
	}
	return nil
}

// SendDirect implements Mattermost.
func (a *Adapter) SendDirect(userID, message string) error { return a.direct(userID, message) }

// SendEmail implements Mattermost.
func (a *Adapter) SendEmail(to, subject, body string) error {
	if err := a.api.SendMail(to, subject, body); err != nil {
		return err
	}
	return nil
}

// SendPasswordReset asks the server to send its own password-reset email.
func (a *Adapter) SendPasswordReset(email string) error {
	body, _ := json.Marshal(map[string]string{"email": email})
	return a.call(http.MethodPost, "/api/v4/users/password/reset/send", "", body)
}

// SetPasswordHash implements Mattermost through PUT /api/v4/users/{id}/password with
// already_hashed, which stores the hash as is, sends no email and revokes no session.
func (a *Adapter) SetPasswordHash(actorID, userID, hash string) error {
	token, err := a.adminToken(actorID)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"new_password": hash, "already_hashed": "true"})
	return a.call(http.MethodPut, "/api/v4/users/"+userID+"/password", token, body)
}

// adminToken returns a short-lived session of the acting admin, created once per fallback run.
func (a *Adapter) adminToken(actorID string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.sessions[actorID]; s != nil && s.ExpiresAt > model.GetMillis()+time.Minute.Milliseconds() {
		return s.Token, nil
	}
	actor, appE := a.api.GetUser(actorID)
	if appE != nil {
		return "", fmt.Errorf("read acting admin: %w", appE)
	}
	s, appE := a.api.CreateSession(&model.Session{
		UserId:    actorID,
		Roles:     actor.Roles,
		ExpiresAt: model.GetMillis() + (15 * time.Minute).Milliseconds(),
		Props:     model.StringMap{"disaster_recovery": "sso-fallback"},
	})
	if appE != nil {
		return "", fmt.Errorf("create a temporary session for @%s: %w", actor.Username, appE)
	}
	a.sessions[actorID] = s
	return s.Token, nil
}

// Release revokes the temporary admin sessions; call it when a run ends.
func (a *Adapter) Release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, s := range a.sessions {
		_ = a.api.RevokeSession(s.Id) // it expires within 15 minutes anyway
		delete(a.sessions, id)
	}
}

func (a *Adapter) call(method, path, token string, body []byte) error {
	base, err := a.serverURL()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	var e model.AppError
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &e) == nil && e.Message != "" {
		return fmt.Errorf("%s %s: %d %s", method, strings.Split(path, "?")[0], resp.StatusCode, e.Message)
	}
	return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
}

// serverURL is how the plugin reaches its own server: the listen address on loopback when the
// server speaks plain HTTP (no proxy or DNS in the way), else the site URL.
func (a *Adapter) serverURL() (string, error) {
	cfg := a.api.GetConfig()
	ss := cfg.ServiceSettings
	if ss.ConnectionSecurity == nil || *ss.ConnectionSecurity == "" {
		if ss.ListenAddress != nil {
			host, port, err := net.SplitHostPort(*ss.ListenAddress)
			if err == nil {
				if host == "" || host == "0.0.0.0" || host == "::" {
					host = "127.0.0.1"
				}
				return "http://" + net.JoinHostPort(host, port), nil
			}
		}
	}
	if ss.SiteURL != nil && *ss.SiteURL != "" {
		return strings.TrimRight(*ss.SiteURL, "/"), nil
	}
	return "", errors.New("cannot reach the server's REST API: set ServiceSettings.SiteURL")
}

// UsersWithSessionsEndingWithin counts the active users of an auth service whose newest
// session ends within d: during an outage of that service they cannot sign in again.
func (a *Adapter) UsersWithSessionsEndingWithin(ctx context.Context, service string, d time.Duration) (int, error) {
	db, err := a.db()
	if err != nil {
		return 0, fmt.Errorf("open the Mattermost database: %w", err)
	}
	now := model.GetMillis()
	var n int
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM (
		SELECT u.Id FROM Users u JOIN Sessions s ON s.UserId = u.Id
		WHERE u.AuthService = $1 AND u.DeleteAt = 0
		GROUP BY u.Id HAVING max(s.ExpiresAt) > $2 AND max(s.ExpiresAt) <= $3) t`,
		service, now, now+d.Milliseconds()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count the %s users whose sessions end soon: %w", service, err)
	}
	return n, nil
}
