// Package notify is how the plugin talks to people: the Disaster Recovery bot's posts in the ops
// channel and in direct messages to admins.
package notify

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/pluginapi"
)

// Mattermost is what the notifier needs from the server; *pluginapi.Client provides it.
type Mattermost interface {
	TeamByName(name string) (*model.Team, error)
	Teams() ([]*model.Team, error)
	ChannelByName(teamID, name string) (*model.Channel, error)
	Channel(id string) (*model.Channel, error)
	ChannelMemberIDs(channelID string) ([]string, error)
	User(id string) (*model.User, error)
	IsSystemAdmin(userID string) bool
	CreateChannel(c *model.Channel) error
	AddTeamMember(teamID, userID string) error
	AddChannelMember(channelID, userID string) error
	DirectChannel(userID, botID string) (*model.Channel, error)
	CreatePost(p *model.Post) error
}

// Target says where the ops channel should be.
type Target struct {
	TeamName    string // empty: the only team, when there is exactly one
	ChannelName string
	Create      bool
}

// Notifier posts as the bot. It resolves the ops channel lazily and again after a settings
// change, so a missing team at activation (a fresh server) fixes itself once the team exists.
type Notifier struct {
	mm    Mattermost
	botID string

	mu        sync.Mutex
	target    Target
	channelID string
	lastErr   error

	logWarn func(msg string, keyValuePairs ...any)
}

// New returns a notifier posting as botID.
func New(mm Mattermost, botID string, target Target) *Notifier {
	return &Notifier{mm: mm, botID: botID, target: target}
}

// WithLog makes the notifier log, as warnings, each new reason the ops channel cannot be used
// and the non-admin members of the channel it adopts.
func (n *Notifier) WithLog(warn func(msg string, keyValuePairs ...any)) *Notifier {
	n.logWarn = warn
	return n
}

// BotID is the bot user's id.
func (n *Notifier) BotID() string { return n.botID }

// SetTarget changes where the ops channel is; the next post resolves it again.
func (n *Notifier) SetTarget(t Target) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if t != n.target {
		n.target, n.channelID, n.lastErr = t, "", nil
	}
}

// OpsChannel returns the ops channel's id, finding or creating it as the settings say. It is
// checked to be private before every use: a channel made public since is given up.
func (n *Notifier) OpsChannel() (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.channelID != "" {
		ch, err := n.mm.Channel(n.channelID)
		if err == nil && ch.Type == model.ChannelTypePrivate {
			return n.channelID, nil
		}
		n.channelID = ""
	}
	id, err := n.resolve()
	if err != nil && n.logWarn != nil && (n.lastErr == nil || n.lastErr.Error() != err.Error()) {
		n.logWarn("The Disaster Recovery ops channel cannot be used", "error", err.Error())
	}
	n.channelID, n.lastErr = id, err
	return id, err
}

// Problem returns why the ops channel cannot be used, or nil.
func (n *Notifier) Problem() error {
	_, err := n.OpsChannel()
	return err
}

func (n *Notifier) resolve() (string, error) {
	t := n.target
	team, err := n.team(t.TeamName)
	if err != nil {
		return "", err
	}
	// The bot must be in the team to be in one of its channels; adding a member twice is a no-op.
	if err := n.mm.AddTeamMember(team.Id, n.botID); err != nil {
		return "", fmt.Errorf("add the bot to team %q: %w", team.Name, err)
	}
	ch, err := n.mm.ChannelByName(team.Id, t.ChannelName)
	switch {
	case err == nil && ch.Type != model.ChannelTypePrivate:
		// Adopting it would show every DR report to the whole team, and to whoever made it.
		return "", n.notPrivate(ch, team)
	case err == nil:
	case isNotFound(err) && t.Create:
		ch = &model.Channel{
			TeamId:      team.Id,
			Name:        t.ChannelName,
			DisplayName: "Disaster Recovery Ops",
			Purpose:     "Backups, restore drills, replication status and failover reports from the Disaster Recovery plugin.",
			Type:        model.ChannelTypePrivate,
			CreatorId:   n.botID,
		}
		if err := n.mm.CreateChannel(ch); err != nil {
			return "", fmt.Errorf("create ops channel ~%s in team %q: %w", t.ChannelName, team.Name, err)
		}
	case isNotFound(err):
		return "", fmt.Errorf("ops channel ~%s does not exist in team %q: create it, or turn on CreateOpsChannel", t.ChannelName, team.Name)
	default:
		return "", fmt.Errorf("find ops channel ~%s in team %q: %w", t.ChannelName, team.Name, err)
	}
	// The bot must be a member to post.
	if err := n.mm.AddChannelMember(ch.Id, n.botID); err != nil {
		return "", fmt.Errorf("add the bot to ops channel ~%s: %w (add @dr-bot to the channel by hand)", t.ChannelName, err)
	}
	if w := n.exposure(ch); w != "" && n.logWarn != nil {
		n.logWarn("The Disaster Recovery ops channel has members who are not system admins", "channel", ch.Name, "team", team.Name, "warning", w)
	}
	return ch.Id, nil
}

// notPrivate is the refusal of a channel that is not private, naming its creator.
func (n *Notifier) notPrivate(ch *model.Channel, team *model.Team) error {
	return fmt.Errorf("ops channel ~%s in team %q is public (created by %s): the bot does not post DR reports where every team member can read them. "+
		"Convert it to private (channel menu > Convert to Private Channel, or System Console > User Management > Channels), or set OpsChannelName to a new name (with CreateOpsChannel on, the bot creates it private)",
		ch.Name, team.Name, n.creator(ch))
}

// Exposure says who besides system admins and the bot is in the ops channel, or "" when
// nobody is (or the channel is not resolved yet: Problem says why).
func (n *Notifier) Exposure() string {
	n.mu.Lock()
	id := n.channelID
	n.mu.Unlock()
	if id == "" {
		return ""
	}
	ch, err := n.mm.Channel(id)
	if err != nil {
		return fmt.Sprintf("cannot check who is in the ops channel: %v", err)
	}
	return n.exposure(ch)
}

// exposure lists the channel's members who are not system admins (other bots included: their
// tokens may be held by anyone), and its creator when that is not an admin.
func (n *Notifier) exposure(ch *model.Channel) string {
	ids, err := n.mm.ChannelMemberIDs(ch.Id)
	if err != nil {
		return fmt.Sprintf("cannot list the members of ~%s: %v", ch.Name, err)
	}
	var outsiders []string
	for _, id := range ids {
		if id != n.botID && !n.mm.IsSystemAdmin(id) {
			outsiders = append(outsiders, n.username(id))
		}
	}
	if len(outsiders) == 0 {
		return ""
	}
	const shown = 10
	list := strings.Join(outsiders[:min(len(outsiders), shown)], ", ")
	if len(outsiders) > shown {
		list += fmt.Sprintf(" and %d more", len(outsiders)-shown)
	}
	return fmt.Sprintf("~%s (created by %s) has %d members who are not system admins and read every DR report: %s. Remove from the channel whoever should not read them",
		ch.Name, n.creator(ch), len(outsiders), list)
}

// username is @username, or the id when the user cannot be read.
func (n *Notifier) username(id string) string {
	if u, err := n.mm.User(id); err == nil {
		return "@" + u.Username
	}
	return id
}

// creator names who created a channel, marked when that is not a system admin.
func (n *Notifier) creator(ch *model.Channel) string {
	switch id := ch.CreatorId; {
	case id == "":
		return "an unknown user"
	case id == n.botID:
		return n.username(id) + ", this plugin's bot"
	case !n.mm.IsSystemAdmin(id):
		return n.username(id) + ", not a system admin"
	default:
		return n.username(id)
	}
}

func (n *Notifier) team(name string) (*model.Team, error) {
	if name != "" {
		team, err := n.mm.TeamByName(name)
		if err != nil {
			if isNotFound(err) {
				return nil, fmt.Errorf("team %q does not exist: set OpsTeamName to the URL name of an existing team", name)
			}
			return nil, fmt.Errorf("find team %q: %w", name, err)
		}
		return team, nil
	}
	teams, err := n.mm.Teams()
	if err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	switch len(teams) {
	case 1:
		return teams[0], nil
	case 0:
		return nil, errors.New("the server has no team yet: create one, or set OpsTeamName")
	default:
		return nil, fmt.Errorf("the server has %d teams: set OpsTeamName to the team that holds the ops channel", len(teams))
	}
}

// Ops posts markdown to the ops channel.
func (n *Notifier) Ops(message string) error {
	id, err := n.OpsChannel()
	if err != nil {
		return err
	}
	return n.post(id, message)
}

// OpsPost posts p, as the bot, to the ops channel: for posts with props such as buttons.
func (n *Notifier) OpsPost(p *model.Post) error {
	id, err := n.OpsChannel()
	if err != nil {
		return err
	}
	p.UserId, p.ChannelId = n.botID, id
	if err := n.mm.CreatePost(p); err != nil {
		return fmt.Errorf("post to channel %s: %w", id, err)
	}
	return nil
}

// Direct sends markdown to one user as a direct message from the bot.
func (n *Notifier) Direct(userID, message string) error {
	ch, err := n.mm.DirectChannel(userID, n.botID)
	if err != nil {
		return fmt.Errorf("open direct channel with %s: %w", userID, err)
	}
	return n.post(ch.Id, message)
}

// OpsAndDirect posts to the ops channel and to the acting admin, so that the admin who started
// something hears about its end even when the ops channel is misconfigured. It returns the ops
// channel's error, if any, after trying both.
func (n *Notifier) OpsAndDirect(userID, message string) error {
	opsErr := n.Ops(message)
	if userID != "" {
		if err := n.Direct(userID, message); err != nil && opsErr == nil {
			return err
		}
	}
	return opsErr
}

func (n *Notifier) post(channelID, message string) error {
	p := &model.Post{UserId: n.botID, ChannelId: channelID, Message: message}
	if err := n.mm.CreatePost(p); err != nil {
		return fmt.Errorf("post to channel %s: %w", channelID, err)
	}
	return nil
}

// isNotFound recognises "not found" both as pluginapi reports it and as a raw AppError.
func isNotFound(err error) bool {
	var appErr *model.AppError
	return errors.Is(err, pluginapi.ErrNotFound) || (errors.As(err, &appErr) && appErr.StatusCode == http.StatusNotFound)
}

// Adapt wraps a pluginapi client as the Mattermost interface.
func Adapt(c *pluginapi.Client) Mattermost { return pluginapiAdapter{c} }

type pluginapiAdapter struct{ c *pluginapi.Client }

func (a pluginapiAdapter) TeamByName(name string) (*model.Team, error) {
	return a.c.Team.GetByName(name)
}
func (a pluginapiAdapter) Teams() ([]*model.Team, error) { return a.c.Team.List() }
func (a pluginapiAdapter) ChannelByName(teamID, name string) (*model.Channel, error) {
	return a.c.Channel.GetByName(teamID, name, false)
}
func (a pluginapiAdapter) CreateChannel(c *model.Channel) error { return a.c.Channel.Create(c) }
func (a pluginapiAdapter) AddTeamMember(teamID, userID string) error {
	_, err := a.c.Team.CreateMember(teamID, userID)
	return err
}
func (a pluginapiAdapter) AddChannelMember(channelID, userID string) error {
	_, err := a.c.Channel.AddMember(channelID, userID)
	return err
}
func (a pluginapiAdapter) DirectChannel(userID, botID string) (*model.Channel, error) {
	return a.c.Channel.GetDirect(userID, botID)
}
func (a pluginapiAdapter) CreatePost(p *model.Post) error            { return a.c.Post.CreatePost(p) }
func (a pluginapiAdapter) Channel(id string) (*model.Channel, error) { return a.c.Channel.Get(id) }
func (a pluginapiAdapter) ChannelMemberIDs(channelID string) ([]string, error) {
	const perPage = 200
	var ids []string
	for page := 0; ; page++ {
		ms, err := a.c.Channel.ListMembers(channelID, page, perPage)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			ids = append(ids, m.UserId)
		}
		if len(ms) < perPage {
			return ids, nil
		}
	}
}
func (a pluginapiAdapter) User(id string) (*model.User, error) { return a.c.User.Get(id) }
func (a pluginapiAdapter) IsSystemAdmin(userID string) bool {
	return a.c.User.HasPermissionTo(userID, model.PermissionManageSystem)
}
