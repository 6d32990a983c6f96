package slashcmd

import (
	"fmt"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"
)

// Usage returns the markdown usage of the command at path: its synopsis,
// flags and subcommands. An unknown path falls back to the deepest command
// that resolves, so callers can pass what the user typed.
func (t *Tree) Usage(path []string) string {
	c, path := t.lookup(path)
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**", t.commandLine(path))
	if c.Summary != "" {
		b.WriteString(" — " + c.Summary)
	}

	var forms []string
	if c.Run != nil {
		forms = append(forms, "`"+t.synopsis(path, c)+"`")
	}
	if len(t.childNames(c)) > 0 {
		forms = append(forms, "`"+t.commandLine(path)+" <command>`")
	}
	b.WriteString("\n\nUsage: " + strings.Join(forms, " or "))

	if len(c.Flags) > 0 {
		b.WriteString("\n\n**Flags**")
		for i := range c.Flags {
			f := &c.Flags[i]
			b.WriteString("\n- `" + flagSynopsis(f) + "`")
			if f.Help != "" {
				b.WriteString(" — " + f.Help)
			}
			if notes := flagNotes(f); notes != "" {
				b.WriteString(" (" + notes + ")")
			}
		}
	}

	if names := t.childNames(c); len(names) > 0 {
		b.WriteString("\n\n**Commands**")
		for _, name := range names {
			sub := t.child(c, name)
			subPath := append(append([]string{}, path...), sub.Name)
			b.WriteString("\n- " + t.helpLine(subPath, sub))
		}
	}
	return b.String()
}

// Help returns the markdown list of every command that can be run.
func (t *Tree) Help() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**", t.commandLine(nil))
	if t.Root.Summary != "" {
		b.WriteString(" — " + t.Root.Summary)
	}
	b.WriteString("\n")
	t.Walk(func(path []string, c *Command) {
		if c.Run != nil {
			b.WriteString("\n- " + t.helpLine(path, c))
		}
	})
	fmt.Fprintf(&b, "\n\nRun `%s help <command>` for its flags and details.", t.commandLine(nil))
	return b.String()
}

// helpLine is one bullet of a command list: synopsis and summary.
func (t *Tree) helpLine(path []string, c *Command) string {
	var forms []string
	if c.Run != nil {
		forms = append(forms, "`"+t.synopsis(path, c)+"`")
	}
	if len(c.Subcommands) > 0 {
		forms = append(forms, "`"+t.commandLine(path)+" <command>`")
	}
	line := strings.Join(forms, " or ")
	if c.Summary != "" {
		line += " — " + c.Summary
	}
	return line
}

// commandLine is what the user types to reach path, e.g. "/dr backup now".
func (t *Tree) commandLine(path []string) string {
	return strings.Join(append([]string{"/" + t.Root.Name}, path...), " ")
}

// synopsis is the one-line form of a runnable command, e.g.
// "/dr backup delete <id> --reason <text> [--confirm]".
func (t *Tree) synopsis(path []string, c *Command) string {
	parts := []string{t.commandLine(path)}
	if c.Args != "" {
		parts = append(parts, c.Args)
	}
	for i := range c.Flags {
		f := &c.Flags[i]
		if f.Required {
			parts = append(parts, flagSynopsis(f))
		} else {
			parts = append(parts, "["+flagSynopsis(f)+"]")
		}
	}
	return strings.Join(parts, " ")
}

// flagSynopsis is "--name <placeholder>", or "--name" for a Bool flag.
func flagSynopsis(f *Flag) string {
	if p := placeholder(f); p != "" {
		return "--" + f.Name + " " + p
	}
	return "--" + f.Name
}

func placeholder(f *Flag) string {
	switch f.Kind {
	case String:
		return "<text>"
	case Int:
		return "<number>"
	case Duration:
		return "<duration>"
	case List:
		return "<item,…>"
	case Enum:
		return "<" + strings.Join(f.Values, "|") + ">"
	default:
		return ""
	}
}

func flagNotes(f *Flag) string {
	var notes []string
	if f.Required {
		notes = append(notes, "required")
	}
	if f.Kind == Duration {
		notes = append(notes, "e.g. 30m, 24h, 7d")
	}
	if f.Kind == List {
		notes = append(notes, "comma separated")
	}
	if f.Default != "" {
		notes = append(notes, "default: "+f.Default)
	}
	return strings.Join(notes, "; ")
}

// Autocomplete returns the autocomplete data for the whole tree, visible to
// system admins only.
func (t *Tree) Autocomplete() *model.AutocompleteData {
	root := model.NewAutocompleteData(t.Root.Name, "[command]", t.Root.Summary)
	root.RoleID = model.SystemAdminRoleId
	for _, sub := range t.Root.Subcommands {
		root.AddCommand(autocompleteFor(sub))
	}
	help := autocompleteFor(t.help)
	var items []model.AutocompleteListItem
	for _, sub := range t.Root.Subcommands {
		items = append(items, model.AutocompleteListItem{Item: sub.Name, HelpText: sub.Summary})
	}
	if len(items) > 0 {
		help.AddStaticListArgument("Command to explain", false, items)
	}
	root.AddCommand(help)
	return root
}

func autocompleteFor(c *Command) *model.AutocompleteData {
	hint := c.Args
	if len(c.Subcommands) > 0 {
		hint = "[command]"
	}
	ad := model.NewAutocompleteData(c.Name, hint, c.Summary)
	ad.RoleID = model.SystemAdminRoleId
	if len(c.Subcommands) > 0 {
		// Mattermost rejects autocomplete data that mixes subcommands and
		// arguments, so a runnable group only advertises its subcommands.
		for _, sub := range c.Subcommands {
			ad.AddCommand(autocompleteFor(sub))
		}
		return ad
	}
	// Mattermost rejects optional positional text arguments; optional
	// positionals are still shown through the hint.
	if c.MinArgs > 0 {
		ad.AddTextArgument(c.Args, c.Args, "")
	}
	for i := range c.Flags {
		f := &c.Flags[i]
		if f.Kind == Enum {
			items := make([]model.AutocompleteListItem, len(f.Values))
			for j, v := range f.Values {
				items[j] = model.AutocompleteListItem{Item: v}
			}
			ad.AddNamedStaticListArgument(f.Name, f.Help, f.Required, items)
			continue
		}
		ad.AddNamedTextArgument(f.Name, f.Help, placeholder(f), "", f.Required)
	}
	return ad
}
