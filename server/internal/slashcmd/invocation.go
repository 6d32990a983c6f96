package slashcmd

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/duration"
)

// Invocation is one parsed run of a command.
//
// The typed flag accessors panic when asked for a flag the command does not
// declare, or with the wrong kind: that is a bug in the handler, and
// Tree.Execute turns the panic into a *PanicError.
type Invocation struct {
	Path   []string // canonical command names, e.g. ["backup", "delete"]
	Args   []string // positionals in order, mentions as written ("@alice")
	Caller Caller

	cmd   *Command
	flags map[string]flagValue // by declared name, defaults filled in
}

// flagValue holds a flag's value parsed once, at parse time, so handlers
// never see a malformed value.
type flagValue struct {
	given bool
	raw   string
	b     bool
	n     int
	d     time.Duration
	list  []string
}

// newInvocation returns an invocation of c with every flag at its default.
func newInvocation(c *Command, path []string) *Invocation {
	inv := &Invocation{Path: path, cmd: c, flags: make(map[string]flagValue, len(c.Flags))}
	for i := range c.Flags {
		f := &c.Flags[i]
		v := flagValue{raw: f.Default}
		if f.Default != "" {
			// Defaults were validated by Tree.Add.
			v, _ = parseValue(f, flagValue{}, f.Default)
		}
		inv.flags[f.Name] = v
	}
	return inv
}

// set records an explicitly given flag value.
func (i *Invocation) set(f *Flag, raw string) error {
	prev := i.flags[f.Name]
	if prev.given && f.Kind != List {
		return fmt.Errorf("--%s given more than once", f.Name)
	}
	if !prev.given {
		prev = flagValue{} // drop the default
	}
	v, err := parseValue(f, prev, raw)
	if err != nil {
		return fmt.Errorf("--%s: %w", f.Name, err)
	}
	v.given = true
	i.flags[f.Name] = v
	return nil
}

// parseValue parses raw for f. prev matters only for List flags, which
// accumulate when repeated.
func parseValue(f *Flag, prev flagValue, raw string) (flagValue, error) {
	v := flagValue{raw: raw}
	switch f.Kind {
	case Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return v, fmt.Errorf("invalid value %q: want true or false", raw)
		}
		v.b = b
	case String:
	case Int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return v, fmt.Errorf("invalid number %q: want a whole number such as 7", raw)
		}
		v.n = n
	case Duration:
		d, err := duration.Parse(raw)
		if err != nil {
			return v, err
		}
		v.d = d
	case List:
		v.list = slices.Concat(prev.list, splitList(raw))
		if prev.raw != "" {
			v.raw = prev.raw + "," + raw
		}
	case Enum:
		for _, allowed := range f.Values {
			if equalFold(raw, allowed) {
				v.raw = allowed
				return v, nil
			}
		}
		return v, fmt.Errorf("invalid value %q: want one of %s", raw, strings.Join(f.Values, ", "))
	default:
		return v, errors.New("invalid flag kind")
	}
	return v, nil
}

// splitList splits a comma separated value, trimming spaces and dropping
// empty items so "db, config," means [db config].
func splitList(raw string) []string {
	var items []string
	for item := range strings.SplitSeq(raw, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

func (i *Invocation) value(name string, kinds ...FlagKind) flagValue {
	if i.cmd == nil {
		panic(fmt.Sprintf("command: flag --%s read from an Invocation not built by Tree.Parse", name))
	}
	f := i.cmd.flag(name)
	if f == nil {
		panic(fmt.Sprintf("command: %q has no flag --%s", strings.Join(i.Path, " "), name))
	}
	for _, k := range kinds {
		if f.Kind == k {
			return i.flags[f.Name]
		}
	}
	panic(fmt.Sprintf("command: flag --%s of %q is a %s flag, read as %s", name, strings.Join(i.Path, " "), f.Kind, kinds[0]))
}

// Bool returns the value of a Bool flag: true if given without a value.
func (i *Invocation) Bool(name string) bool { return i.value(name, Bool).b }

// String returns the value of a String or Enum flag, or its Default. Enum
// values are returned as declared in Values, whatever case was typed.
func (i *Invocation) String(name string) string { return i.value(name, String, Enum).raw }

// Int returns the value of an Int flag, or its Default (0 if none).
func (i *Invocation) Int(name string) int { return i.value(name, Int).n }

// Duration returns the value of a Duration flag, or its Default (0 if none).
func (i *Invocation) Duration(name string) time.Duration { return i.value(name, Duration).d }

// List returns the items of a List flag, or of its Default.
func (i *Invocation) List(name string) []string {
	return append([]string(nil), i.value(name, List).list...)
}

// Has reports whether the flag was given explicitly, as opposed to
// defaulted; it works for every kind.
func (i *Invocation) Has(name string) bool {
	return i.value(name, Bool, String, Int, Duration, List, Enum).given
}

// Mentions returns the usernames mentioned as positionals ("@Alice" gives
// "alice"), lowercased, de-duplicated and in order. Trailing ",", ";" and ":"
// are dropped because people write "@alice, @bob" and usernames cannot
// contain them.
func (i *Invocation) Mentions() []string {
	var names []string
	seen := make(map[string]bool)
	for _, arg := range i.Args {
		name, ok := strings.CutPrefix(arg, "@")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimRight(name, ",;:"))
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		names = append(names, name)
	}
	return names
}
