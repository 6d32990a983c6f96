package notify

import (
	"fmt"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeMM is an in-memory Mattermost with one team.
type fakeMM struct {
	team     *model.Team
	channels map[string]*model.Channel // by id
	members  map[string][]string       // channel id -> user ids
	users    map[string]*model.User
	admins   map[string]bool
	posts    []*model.Post
}

func newFake() *fakeMM {
	f := &fakeMM{team: &model.Team{Id: "team1", Name: "ops"}, channels: map[string]*model.Channel{}, members: map[string][]string{},
		users: map[string]*model.User{}, admins: map[string]bool{}}
	for id, name := range map[string]string{"admin1": "sysadmin", "bob1": "bob", "carol1": "carol", "bot1": "dr-bot"} {
		f.users[id] = &model.User{Id: id, Username: name}
	}
	f.admins["admin1"] = true
	return f
}

func (f *fakeMM) addChannel(name string, typ model.ChannelType, creator string, members ...string) *model.Channel {
	ch := &model.Channel{Id: "ch-" + name, TeamId: f.team.Id, Name: name, Type: typ, CreatorId: creator}
	f.channels[ch.Id] = ch
	f.members[ch.Id] = members
	return ch
}

func (f *fakeMM) TeamByName(name string) (*model.Team, error) {
	if name == f.team.Name {
		return f.team, nil
	}
	return nil, pluginapi.ErrNotFound
}
func (f *fakeMM) Teams() ([]*model.Team, error) { return []*model.Team{f.team}, nil }
func (f *fakeMM) ChannelByName(_, name string) (*model.Channel, error) {
	for _, ch := range f.channels {
		if ch.Name == name {
			return ch, nil
		}
	}
	return nil, pluginapi.ErrNotFound
}
func (f *fakeMM) Channel(id string) (*model.Channel, error) {
	if ch, ok := f.channels[id]; ok {
		return ch, nil
	}
	return nil, pluginapi.ErrNotFound
}
func (f *fakeMM) ChannelMemberIDs(id string) ([]string, error) { return f.members[id], nil }
func (f *fakeMM) User(id string) (*model.User, error) {
	if u, ok := f.users[id]; ok {
		return u, nil
	}
	return nil, pluginapi.ErrNotFound
}
func (f *fakeMM) IsSystemAdmin(id string) bool { return f.admins[id] }
func (f *fakeMM) CreateChannel(c *model.Channel) error {
	c.Id = "ch-" + c.Name
	f.channels[c.Id] = c
	f.members[c.Id] = []string{c.CreatorId}
	return nil
}
func (f *fakeMM) AddTeamMember(string, string) error { return nil }
func (f *fakeMM) AddChannelMember(channelID, userID string) error {
	for _, m := range f.members[channelID] {
		if m == userID {
			return nil
		}
	}
	f.members[channelID] = append(f.members[channelID], userID)
	return nil
}
func (f *fakeMM) DirectChannel(string, string) (*model.Channel, error) {
	return nil, fmt.Errorf("no direct channels here")
}
func (f *fakeMM) CreatePost(p *model.Post) error { f.posts = append(f.posts, p); return nil }

type logged []string

func (l *logged) warn(msg string, kv ...any) {
	*l = append(*l, fmt.Sprint(append([]any{msg}, kv...)...))
}

// A public channel of the ops channel's name, made by a non-admin before the plugin ran, is
// never adopted: nothing is posted there and the bot does not join it, until an admin makes it
// private; then who besides admins is in it is reported.
func TestPublicOpsChannelIsNotAdopted(t *testing.T) {
	f := newFake()
	squat := f.addChannel("dr-ops", model.ChannelTypeOpen, "bob1", "bob1", "carol1")
	var log logged
	n := New(f, "bot1", Target{TeamName: "ops", ChannelName: "dr-ops", Create: true}).WithLog(log.warn)

	err := n.Ops("Backup done")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "~dr-ops in team \"ops\" is public (created by @bob, not a system admin)")
	assert.Contains(t, err.Error(), "Convert it to private")
	assert.Empty(t, f.posts)
	assert.Equal(t, []string{"bob1", "carol1"}, f.members[squat.Id], "the bot did not join")
	require.Error(t, n.Problem())
	assert.Len(t, log, 1, "each new refusal is logged once: %v", log)
	assert.Contains(t, log[0], "is public")
	assert.Len(t, f.channels, 1, "no second channel was created beside it")

	squat.Type = model.ChannelTypePrivate // an admin converted it
	require.NoError(t, n.Ops("Backup done"))
	require.Len(t, f.posts, 1)
	assert.Equal(t, squat.Id, f.posts[0].ChannelId)
	want := "~dr-ops (created by @bob, not a system admin) has 2 members who are not system admins and read every DR report: @bob, @carol"
	assert.Contains(t, n.Exposure(), want)
	require.Len(t, log, 2)
	assert.Contains(t, log[1], want)

	f.members[squat.Id] = []string{"admin1", "bot1"}
	assert.Empty(t, n.Exposure(), "only admins and the bot")

	squat.Type = model.ChannelTypeOpen // made public again after it was adopted
	err = n.Ops("Failover started")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is public")
	assert.Len(t, f.posts, 1)
}

func TestOpsChannelCreatedPrivateOrAdopted(t *testing.T) {
	f := newFake()
	n := New(f, "bot1", Target{TeamName: "ops", ChannelName: "dr-ops", Create: true})
	require.NoError(t, n.Ops("hello"))
	ch, err := f.ChannelByName("team1", "dr-ops")
	require.NoError(t, err)
	assert.Equal(t, model.ChannelTypePrivate, ch.Type)
	assert.Empty(t, n.Exposure())

	f = newFake()
	own := f.addChannel("dr-ops", model.ChannelTypePrivate, "admin1", "admin1")
	n = New(f, "bot1", Target{TeamName: "ops", ChannelName: "dr-ops"})
	require.NoError(t, n.Ops("hello"))
	assert.Equal(t, []string{"admin1", "bot1"}, f.members[own.Id])
	assert.Empty(t, n.Exposure())
}
