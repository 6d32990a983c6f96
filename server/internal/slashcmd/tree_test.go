package slashcmd

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	assert.Equal(t, "dr", New("dr").Root.Name)
	assert.Equal(t, "dr", New("/dr").Root.Name)
	assert.Panics(t, func() { New("") })
	assert.Panics(t, func() { New("/DR") })
}

func TestAddPanics(t *testing.T) {
	run := func(context.Context, *Invocation) (*Response, error) { return nil, nil }
	tests := []struct {
		name string
		path []string
		cmd  *Command
		want string
	}{
		{"nil command", nil, nil, "nil command"},
		{"unknown parent", []string{"nope"}, &Command{Name: "x", Run: run}, `no command "nope"`},
		{"duplicate", nil, &Command{Name: "backup"}, `duplicate command "backup"`},
		{"duplicate case-insensitive", []string{"BACKUP"}, &Command{Name: "now", Run: run}, `duplicate command "backup now"`},
		{"help is built in", nil, &Command{Name: "help", Run: run}, `"help" is built in`},
		{"empty name", nil, &Command{Run: run}, "empty name"},
		{"uppercase name", nil, &Command{Name: "Status", Run: run}, "use only a-z"},
		{"name like a flag", nil, &Command{Name: "-x", Run: run}, "must not start with '-'"},
		{"bad arg limits", nil, &Command{Name: "x", MinArgs: 2, MaxArgs: 1, Run: run}, "invalid argument limits"},
		{"group with flags", nil, &Command{Name: "x", Flags: []Flag{{Name: "f", Kind: Bool}}}, "no Run"},
		{"group with args", nil, &Command{Name: "x", MaxArgs: -1}, "no Run"},
		{"flag without kind", nil, &Command{Name: "x", Run: run, Flags: []Flag{{Name: "f"}}}, "invalid Kind 0"},
		{"enum without values", nil, &Command{Name: "x", Run: run, Flags: []Flag{{Name: "f", Kind: Enum}}}, "enum flags need Values"},
		{"values on non-enum", nil, &Command{Name: "x", Run: run, Flags: []Flag{{Name: "f", Kind: String, Values: []string{"a"}}}}, "enum flags need Values"},
		{"bad default", nil, &Command{Name: "x", Run: run, Flags: []Flag{{Name: "f", Kind: Duration, Default: "soon"}}}, "invalid Default"},
		{"default not in enum", nil, &Command{Name: "x", Run: run, Flags: []Flag{{Name: "f", Kind: Enum, Values: []string{"a"}, Default: "b"}}}, "invalid Default"},
		{"duplicate flag", nil, &Command{Name: "x", Run: run, Flags: []Flag{{Name: "f", Kind: Bool}, {Name: "f", Kind: Int}}}, "duplicate flag --f"},
		{"help flag is built in", nil, &Command{Name: "x", Run: run, Flags: []Flag{{Name: "help", Kind: Bool}}}, "--help is built in"},
		{"flag name with equals", nil, &Command{Name: "x", Run: run, Flags: []Flag{{Name: "a=b", Kind: Bool}}}, "use only a-z"},
		{"nested duplicate", nil, &Command{Name: "x", Subcommands: []*Command{{Name: "y", Run: run}, {Name: "y", Run: run}}}, `duplicate command "x y"`},
		{"nested invalid", nil, &Command{Name: "x", Subcommands: []*Command{{Name: "Y", Run: run}}}, `invalid command name "x Y"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := sampleTree()
			defer func() {
				r := recover()
				require.NotNil(t, r, "Add did not panic")
				assert.Contains(t, r, tt.want)
			}()
			tree.Add(tt.path, tt.cmd)
		})
	}
}

func TestWalk(t *testing.T) {
	var paths []string
	sampleTree().Walk(func(path []string, c *Command) {
		require.NotNil(t, c)
		if len(path) > 0 {
			assert.Equal(t, path[len(path)-1], c.Name)
		}
		paths = append(paths, strings.Join(path, " "))
	})
	assert.Equal(t, []string{
		"",
		"backup", "backup now", "backup delete", "backup list",
		"sso", "sso bypass",
		"failover", "failover status",
		"audit",
		"help",
	}, paths)
}

// TestEveryCommand sweeps the tree the way feature tests are meant to:
// every command must be documented, reachable and have usable help.
func TestEveryCommand(t *testing.T) {
	tree := sampleTree()
	tree.Walk(func(path []string, c *Command) {
		line := tree.commandLine(path)
		if len(path) > 0 {
			assert.NotEmpty(t, c.Summary, "%s has no summary", line)
		}
		usage := tree.Usage(path)
		assert.True(t, strings.HasPrefix(usage, "**"+line+"**"), "usage of %s: %s", line, usage)

		// --help reaches every command, whatever its required arguments.
		cmd, inv, err := tree.Parse(line + " --help")
		require.NoError(t, err, line)
		assert.Equal(t, "help", cmd.Name)
		if len(path) > 0 {
			assert.Equal(t, path, inv.Args)
		} else {
			assert.Empty(t, inv.Args)
		}
	})
}

func TestAutocomplete(t *testing.T) {
	ad := sampleTree().Autocomplete()
	require.NoError(t, ad.IsValid())
	assert.Equal(t, "dr", ad.Trigger)
	assert.Equal(t, "Disaster recovery", ad.HelpText)

	var walk func(ad *model.AutocompleteData)
	walk = func(ad *model.AutocompleteData) {
		assert.Equal(t, model.SystemAdminRoleId, ad.RoleID, ad.Trigger)
		for _, sub := range ad.SubCommands {
			walk(sub)
		}
	}
	walk(ad)

	assert.Equal(t, []string{"backup", "sso", "failover", "audit", "help"}, triggers(ad.SubCommands))
	backup := ad.SubCommands[0]
	assert.Equal(t, []string{"now", "delete", "list"}, triggers(backup.SubCommands))
	assert.Empty(t, backup.Arguments)

	del := backup.SubCommands[1]
	assert.Equal(t, "<id|latest>", del.Hint)
	assert.Equal(t, "Delete a backup", del.HelpText)
	require.Len(t, del.Arguments, 3)
	assert.Equal(t, "", del.Arguments[0].Name, "positional first")
	assert.Equal(t, &model.AutocompleteTextArg{Hint: "<id|latest>"}, del.Arguments[0].Data)
	assert.Equal(t, "confirm", del.Arguments[1].Name)
	assert.False(t, del.Arguments[1].Required)
	assert.Equal(t, "reason", del.Arguments[2].Name)
	assert.True(t, del.Arguments[2].Required)
	assert.Equal(t, &model.AutocompleteTextArg{Hint: "<text>"}, del.Arguments[2].Data)

	bypass := ad.SubCommands[1].SubCommands[0]
	require.Len(t, bypass.Arguments, 4)
	mode := bypass.Arguments[3]
	assert.Equal(t, "mode", mode.Name)
	assert.Equal(t, model.AutocompleteArgTypeStaticList, mode.Type)
	assert.Equal(t, &model.AutocompleteStaticListArg{PossibleArguments: []model.AutocompleteListItem{
		{Item: "read-only"}, {Item: "full"},
	}}, mode.Data)

	// A runnable group can only advertise its subcommands.
	failover := ad.SubCommands[2]
	assert.Equal(t, []string{"status"}, triggers(failover.SubCommands))
	assert.Empty(t, failover.Arguments)

	// Optional positionals appear only in the hint.
	audit := ad.SubCommands[3]
	assert.Equal(t, "[text …]", audit.Hint)
	require.Len(t, audit.Arguments, 1)
	assert.Equal(t, "since", audit.Arguments[0].Name)

	help := ad.SubCommands[4]
	require.Len(t, help.Arguments, 1)
	assert.Equal(t, model.AutocompleteArgTypeStaticList, help.Arguments[0].Type)
}

func TestAutocompleteEmptyTree(t *testing.T) {
	ad := New("dr").Autocomplete()
	require.NoError(t, ad.IsValid())
	assert.Equal(t, []string{"help"}, triggers(ad.SubCommands))
}

func triggers(ads []*model.AutocompleteData) []string {
	var names []string
	for _, ad := range ads {
		names = append(names, ad.Trigger)
	}
	return names
}

func TestUsage(t *testing.T) {
	tree := sampleTree()
	tests := []struct {
		name string
		path []string
		want string
	}{
		{"leaf", []string{"backup", "delete"}, "**/dr backup delete** — Delete a backup\n\n" +
			"Usage: `/dr backup delete <id|latest> [--confirm] --reason <text>`\n\n" +
			"**Flags**\n" +
			"- `--confirm` — Really delete\n" +
			"- `--reason <text>` — Why (required)"},
		{"every flag kind", []string{"sso", "bypass"}, "**/dr sso bypass** — Let users log in without SSO\n\n" +
			"Usage: `/dr sso bypass @user … [--for <duration>] --reason <text> [--mode <read-only|full>]`\n\n" +
			"**Flags**\n" +
			"- `--for <duration>` — How long (e.g. 30m, 24h, 7d; default: 24h)\n" +
			"- `--reason <text>` — Why (required)\n" +
			"- `--mode <read-only|full>` — Access level (default: read-only)"},
		{"group", []string{"backup"}, "**/dr backup** — Manage backups\n\n" +
			"Usage: `/dr backup <command>`\n\n" +
			"**Commands**\n" +
			"- `/dr backup now [--only <item,…>] [--reason <text>]` — Take a backup now\n" +
			"- `/dr backup delete <id|latest> [--confirm] --reason <text>` — Delete a backup\n" +
			"- `/dr backup list [--limit <number>] [--older-than <duration>]` — List backups"},
		{"runnable group", []string{"failover"}, "**/dr failover** — Fail over to another region\n\n" +
			"Usage: `/dr failover [region]` or `/dr failover <command>`\n\n" +
			"**Commands**\n" +
			"- `/dr failover status` — Show failover status"},
		{"root", nil, "**/dr** — Disaster recovery\n\n" +
			"Usage: `/dr <command>`\n\n" +
			"**Commands**\n" +
			"- `/dr backup <command>` — Manage backups\n" +
			"- `/dr sso <command>` — Single sign-on emergency access\n" +
			"- `/dr failover [region]` or `/dr failover <command>` — Fail over to another region\n" +
			"- `/dr audit [text …] [--since <duration>]` — Search the audit log\n" +
			"- `/dr help [command …]` — Show help for all commands or for one command"},
		{"help", []string{"help"}, "**/dr help** — Show help for all commands or for one command\n\n" +
			"Usage: `/dr help [command …]`"},
		{"case-insensitive path", []string{"BACKUP", "Delete"}, tree.Usage([]string{"backup", "delete"})},
		{"unknown path falls back", []string{"backup", "nope"}, tree.Usage([]string{"backup"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tree.Usage(tt.path))
		})
	}
}

func TestHelp(t *testing.T) {
	want := "**/dr** — Disaster recovery\n\n" +
		"- `/dr backup now [--only <item,…>] [--reason <text>]` — Take a backup now\n" +
		"- `/dr backup delete <id|latest> [--confirm] --reason <text>` — Delete a backup\n" +
		"- `/dr backup list [--limit <number>] [--older-than <duration>]` — List backups\n" +
		"- `/dr sso bypass @user … [--for <duration>] --reason <text> [--mode <read-only|full>]` — Let users log in without SSO\n" +
		"- `/dr failover [region]` or `/dr failover <command>` — Fail over to another region\n" +
		"- `/dr failover status` — Show failover status\n" +
		"- `/dr audit [text …] [--since <duration>]` — Search the audit log\n" +
		"- `/dr help [command …]` — Show help for all commands or for one command\n\n" +
		"Run `/dr help <command>` for its flags and details."
	assert.Equal(t, want, sampleTree().Help())
}

func TestExecute(t *testing.T) {
	errBoom := errors.New("boom")
	tree := sampleTree()
	tree.Add(nil, &Command{Name: "fail", Summary: "Fails", Run: func(context.Context, *Invocation) (*Response, error) {
		return nil, errBoom
	}})
	tree.Add(nil, &Command{Name: "buggy", Summary: "Reads an undeclared flag", Run: func(_ context.Context, inv *Invocation) (*Response, error) {
		return &Response{Text: inv.String("nope")}, nil
	}})
	caller := Caller{UserID: "u1", ChannelID: "c1", TeamID: "t1", RootID: "r1"}
	ctx := context.Background()

	tests := []struct {
		name string
		line string
		want string
	}{
		{"handler gets invocation and caller", "/dr backup delete 7 --reason x", "backup delete:7:u1"},
		{"bare trigger shows help", "/dr", tree.Help()},
		{"group shows usage", "/dr backup", tree.Usage([]string{"backup"})},
		{"help", "/dr help", tree.Help()},
		{"help for command", "/dr help backup delete", tree.Usage([]string{"backup", "delete"})},
		{"--help for command", "/dr backup delete --help", tree.Usage([]string{"backup", "delete"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tree.Execute(ctx, tt.line, caller)
			require.NoError(t, err)
			assert.Equal(t, tt.want, resp.Text)
		})
	}

	t.Run("handler error returned as is", func(t *testing.T) {
		resp, err := tree.Execute(ctx, "/dr fail", caller)
		assert.Nil(t, resp)
		assert.Same(t, errBoom, err)
	})
	t.Run("usage error", func(t *testing.T) {
		_, err := tree.Execute(ctx, "/dr bakup", caller)
		var usageErr *UsageError
		assert.ErrorAs(t, err, &usageErr)
	})
	t.Run("panic becomes PanicError", func(t *testing.T) {
		resp, err := tree.Execute(ctx, "/dr buggy", caller)
		assert.Nil(t, resp)
		var panicErr *PanicError
		require.ErrorAs(t, err, &panicErr)
		assert.Equal(t, []string{"buggy"}, panicErr.Path)
		assert.NotEmpty(t, panicErr.Stack)
		assert.Equal(t, `internal error in "buggy": command: "buggy" has no flag --nope`, err.Error())
	})
}

func TestCallerFromArgs(t *testing.T) {
	got := CallerFromArgs(&model.CommandArgs{UserId: "u", ChannelId: "c", TeamId: "t", RootId: "r", Command: "/dr"})
	assert.Equal(t, Caller{UserID: "u", ChannelID: "c", TeamID: "t", RootID: "r"}, got)
	assert.Equal(t, Caller{}, CallerFromArgs(nil))
}
