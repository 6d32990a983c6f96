// Package slashcmd is the single command tree behind the /dr slash command.
//
// Features declare their subcommands as data (name, arguments, flags and a
// handler) and register them with Tree.Add; parsing, validation, help text
// and autocomplete are derived from those declarations so they cannot drift
// apart. Handlers receive an Invocation whose flags are already validated and
// typed; tests for a handler can build one with Tree.Parse.
package slashcmd

import (
	"context"

	"github.com/mattermost/mattermost/server/public/model"
)

// FlagKind says how a flag's value is parsed.
type FlagKind int

// Flag kinds. The zero value is deliberately invalid so that a Flag declared
// without a Kind is caught by Tree.Add instead of silently becoming a Bool.
const (
	Bool     FlagKind = iota + 1 // no value; --name or --name=false
	String                       // any text
	Int                          // a whole number
	Duration                     // duration.Parse: 30m, 24h, 7d, 1d12h
	List                         // comma separated; repeating the flag appends
	Enum                         // one of Flag.Values, matched case-insensitively
)

// String names the kind, for error messages.
func (k FlagKind) String() string {
	switch k {
	case Bool:
		return "bool"
	case String:
		return "string"
	case Int:
		return "int"
	case Duration:
		return "duration"
	case List:
		return "list"
	case Enum:
		return "enum"
	default:
		return "FlagKind(invalid)"
	}
}

// Flag declares a named option, written --name value or --name=value.
type Flag struct {
	Name     string // lowercase, without the leading "--"
	Kind     FlagKind
	Help     string   // one line, shown in usage and autocomplete
	Values   []string // allowed values, Enum only
	Default  string   // used when the flag is not given; must parse as Kind
	Required bool
}

// Command declares a subcommand. A command with Subcommands is a group; a
// group may also have a Run of its own, in which case words that do not name
// a subcommand are its positional arguments.
type Command struct {
	Name    string // lowercase, e.g. "backup"
	Summary string // one line, shown in help and autocomplete
	Args    string // positional hint for usage/autocomplete, e.g. "<id|latest>"
	// MinArgs and MaxArgs bound the number of positional arguments; MaxArgs
	// -1 means unlimited. Mentions such as "@alice" count as positionals.
	MinArgs, MaxArgs int
	Flags            []Flag
	Subcommands      []*Command
	Run              Handler // nil for pure groups: running one prints its usage
}

// Handler runs a parsed command. Its error is returned to the caller of
// Tree.Execute unchanged.
type Handler func(ctx context.Context, inv *Invocation) (*Response, error)

// Response is what the caller sees.
type Response struct {
	Text string // markdown, shown ephemerally to the caller
}

// Caller identifies who ran the command and where.
type Caller struct {
	UserID    string
	ChannelID string
	TeamID    string
	RootID    string
}

// CallerFromArgs copies the caller's identity out of the arguments Mattermost
// passes to ExecuteCommand.
func CallerFromArgs(args *model.CommandArgs) Caller {
	if args == nil {
		return Caller{}
	}
	return Caller{
		UserID:    args.UserId,
		ChannelID: args.ChannelId,
		TeamID:    args.TeamId,
		RootID:    args.RootId,
	}
}

func (c *Command) isGroup() bool { return len(c.Subcommands) > 0 || c.Run == nil }

func (c *Command) flag(name string) *Flag {
	for i := range c.Flags {
		if equalFold(c.Flags[i].Name, name) {
			return &c.Flags[i]
		}
	}
	return nil
}

func (c *Command) child(name string) *Command {
	for _, sub := range c.Subcommands {
		if equalFold(sub.Name, name) {
			return sub
		}
	}
	return nil
}
