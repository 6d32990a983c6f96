package slashcmd

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// helpName is the built-in help command, available at the root and, as a
// word, inside every group ("/dr backup help").
const helpName = "help"

// Tree is the command tree for one slash command trigger.
type Tree struct {
	Root *Command // Name is the trigger without "/", e.g. "dr"

	help *Command
}

// New returns an empty tree for trigger ("dr" or "/dr"). It panics if the
// trigger is not a valid command name, which is a programming error.
func New(trigger string) *Tree {
	name := strings.TrimPrefix(trigger, "/")
	if err := validateName(name); err != nil {
		panic(fmt.Sprintf("command: invalid trigger %q: %v", trigger, err))
	}
	t := &Tree{Root: &Command{Name: name}}
	t.help = &Command{
		Name:    helpName,
		Summary: "Show help for all commands or for one command",
		Args:    "[command …]",
		MaxArgs: -1,
		Run:     t.runHelp,
	}
	return t
}

// Add attaches c, with any subcommands it already has, under the group at
// path (nil for the root). It panics on an unknown path, a duplicate name or
// an invalid declaration: those are programming errors that tests sweeping
// the tree should catch at startup.
func (t *Tree) Add(path []string, c *Command) {
	parent, full := t.Root, make([]string, 0, len(path)+1)
	for i, name := range path {
		if parent = parent.child(name); parent == nil {
			panic(fmt.Sprintf("command: cannot add under %q: no command %q", strings.Join(path, " "), strings.Join(path[:i+1], " ")))
		}
		full = append(full, parent.Name)
	}
	if c == nil {
		panic(fmt.Sprintf("command: nil command added under %q", strings.Join(full, " ")))
	}
	full = append(full, c.Name)
	if err := validateCommand(c, full); err != nil {
		panic("command: " + err.Error())
	}
	if parent.child(c.Name) != nil || (parent == t.Root && equalFold(c.Name, helpName)) {
		panic(fmt.Sprintf("command: duplicate command %q", strings.Join(full, " ")))
	}
	parent.Subcommands = append(parent.Subcommands, c)
}

// Walk calls fn for every command depth-first, parents before children:
// the root (empty path), every registered command and group, and finally the
// built-in help. fn receives its own copy of path.
func (t *Tree) Walk(fn func(path []string, c *Command)) {
	var walk func(path []string, c *Command)
	walk = func(path []string, c *Command) {
		fn(slices.Clone(path), c)
		for _, sub := range c.Subcommands {
			walk(append(path, sub.Name), sub)
		}
	}
	walk(nil, t.Root)
	fn([]string{helpName}, t.help)
}

// lookup follows path as far as it resolves, returning the deepest command
// and its canonical path. The built-in help resolves at the root.
func (t *Tree) lookup(path []string) (*Command, []string) {
	cur, resolved := t.Root, []string{}
	for _, name := range path {
		next := t.child(cur, name)
		if next == nil {
			break
		}
		cur, resolved = next, append(resolved, next.Name)
	}
	return cur, resolved
}

// child is Command.child plus the built-in help at the root.
func (t *Tree) child(c *Command, name string) *Command {
	if sub := c.child(name); sub != nil {
		return sub
	}
	if c == t.Root && equalFold(name, helpName) {
		return t.help
	}
	return nil
}

// childNames lists what may follow c, for suggestions and messages.
func (t *Tree) childNames(c *Command) []string {
	names := make([]string, 0, len(c.Subcommands)+1)
	for _, sub := range c.Subcommands {
		names = append(names, sub.Name)
	}
	if c == t.Root {
		names = append(names, helpName)
	}
	return names
}

func validateCommand(c *Command, path []string) error {
	where := strings.Join(path, " ")
	if err := validateName(c.Name); err != nil {
		return fmt.Errorf("invalid command name %q: %w", where, err)
	}
	if equalFold(c.Name, helpName) && len(path) == 1 {
		return fmt.Errorf("command %q is built in", helpName)
	}
	if c.MinArgs < 0 || c.MaxArgs < -1 || (c.MaxArgs != -1 && c.MaxArgs < c.MinArgs) {
		return fmt.Errorf("command %q: invalid argument limits MinArgs=%d MaxArgs=%d", where, c.MinArgs, c.MaxArgs)
	}
	if c.Run == nil && (len(c.Flags) > 0 || c.MinArgs > 0 || c.MaxArgs != 0) {
		return fmt.Errorf("command %q has flags or arguments but no Run", where)
	}
	for i := range c.Flags {
		f := &c.Flags[i]
		if err := validateFlag(f); err != nil {
			return fmt.Errorf("command %q: flag --%s: %w", where, f.Name, err)
		}
		if c.flag(f.Name) != f {
			return fmt.Errorf("command %q: duplicate flag --%s", where, f.Name)
		}
	}
	for _, sub := range c.Subcommands {
		if sub == nil {
			return fmt.Errorf("command %q has a nil subcommand", where)
		}
		if c.child(sub.Name) != sub {
			return fmt.Errorf("duplicate command %q", where+" "+sub.Name)
		}
		if err := validateCommand(sub, append(slices.Clone(path), sub.Name)); err != nil {
			return err
		}
	}
	return nil
}

func validateFlag(f *Flag) error {
	if err := validateName(f.Name); err != nil {
		return err
	}
	if equalFold(f.Name, helpName) {
		return fmt.Errorf("--%s is built in", helpName)
	}
	if f.Kind < Bool || f.Kind > Enum {
		return fmt.Errorf("invalid Kind %d", int(f.Kind))
	}
	if (f.Kind == Enum) != (len(f.Values) > 0) {
		return errors.New("enum flags need Values and other kinds must not set them")
	}
	for _, v := range f.Values {
		if v == "" {
			return errors.New("empty enum value")
		}
	}
	if f.Default != "" {
		if _, err := parseValue(f, flagValue{}, f.Default); err != nil {
			return fmt.Errorf("invalid Default: %w", err)
		}
	}
	return nil
}

// validateName keeps names typeable and lowercase, which autocomplete
// requires, and keeps them from being confused with flags.
func validateName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if name[0] == '-' {
		return errors.New("must not start with '-'")
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			return errors.New("use only a-z, 0-9, '-' and '_'")
		}
	}
	return nil
}

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }
