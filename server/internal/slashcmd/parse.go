package slashcmd

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// UsageError is returned for every input that does not parse. Its message is
// followed by the usage of the nearest command, so the user sees what to type
// instead.
type UsageError struct {
	Path []string // the nearest command: the deepest one that was matched
	Msg  string

	usage string
}

// Error returns the message followed by the usage of the nearest command.
func (e *UsageError) Error() string {
	if e.usage == "" {
		return e.Msg
	}
	return e.Msg + "\n\n" + e.usage
}

// Parse parses line, the full command text such as
// `/dr backup now --only db,config`. The leading trigger is optional.
//
// It returns the command to run and its invocation; for a pure group (Run is
// nil) the caller should show its usage, as Execute does. Help requests
// ("help", "--help") return the built-in help command. Every error is a
// *UsageError.
func (t *Tree) Parse(line string) (*Command, *Invocation, error) {
	tokens, err := Split(line)
	if err != nil {
		return nil, nil, t.syntaxError(line, err)
	}
	tokens = t.stripTrigger(tokens)

	cur, path := t.Root, []string{}
	i := 0
	for ; i < len(tokens) && cur.isGroup(); i++ {
		tok := tokens[i]
		if _, isFlag := flagBody(tok); isFlag || strings.HasPrefix(tok, "-") {
			break // flags, or --help; subcommand names never start with '-'
		}
		if sub := cur.child(tok); sub != nil {
			cur, path = sub, append(path, sub.Name)
			continue
		}
		if equalFold(tok, helpName) {
			return t.parseHelp(cur, path, tokens[i+1:])
		}
		if cur.Run != nil && cur.MaxArgs != 0 {
			break // a runnable group's positional
		}
		return nil, nil, t.unknownCommand(cur, path, tok)
	}
	rest := tokens[i:]

	if cur.Run == nil {
		for _, tok := range rest {
			if body, ok := flagBody(tok); ok {
				if body == "" {
					break
				}
				if isHelpFlag(body) {
					return t.helpFor(path)
				}
			}
		}
		if len(rest) > 0 {
			return nil, nil, t.usageError(path, "unexpected %s: %s needs a subcommand first (one of %s)",
				rest[0], t.commandLine(path), strings.Join(t.childNames(cur), ", "))
		}
		return cur, newInvocation(cur, path), nil
	}
	return t.parseArgs(cur, path, rest)
}

// parseArgs parses the flags and positionals of a runnable command.
func (t *Tree) parseArgs(c *Command, path, tokens []string) (*Command, *Invocation, error) {
	inv := newInvocation(c, path)
	flagsDone := false
	for j := 0; j < len(tokens); j++ {
		tok := tokens[j]
		body, isFlag := flagBody(tok)
		if flagsDone || !isFlag {
			inv.Args = append(inv.Args, tok)
			continue
		}
		if body == "" {
			flagsDone = true // "--" ends flags: later tokens are positionals
			continue
		}
		name, value, hasValue := strings.Cut(body, "=")
		if isHelpFlag(name) {
			return t.helpFor(path)
		}
		f := c.flag(name)
		if f == nil {
			return nil, nil, t.unknownFlag(c, path, name)
		}
		if !hasValue {
			if f.Kind == Bool {
				value = "true"
			} else {
				if j+1 == len(tokens) {
					return nil, nil, t.usageError(path, "missing value for --%s", f.Name)
				}
				if _, next := flagBody(tokens[j+1]); next {
					return nil, nil, t.usageError(path,
						"missing value for --%s before %s (write --%s=VALUE if the value starts with --)",
						f.Name, tokens[j+1], f.Name)
				}
				j++
				value = tokens[j]
			}
		}
		if err := inv.set(f, value); err != nil {
			return nil, nil, t.usageError(path, "%v", err)
		}
	}

	if n := len(inv.Args); n < c.MinArgs || (c.MaxArgs >= 0 && n > c.MaxArgs) {
		problem := "not enough arguments"
		if n > c.MinArgs {
			problem = "too many arguments"
		}
		expected := describeArgCount(c)
		if c.Args != "" {
			expected += " (" + c.Args + ")"
		}
		return nil, nil, t.usageError(path, "%s: expected %s, got %d", problem, expected, n)
	}
	for k := range c.Flags {
		if f := &c.Flags[k]; f.Required && !inv.flags[f.Name].given {
			return nil, nil, t.usageError(path, "missing required flag %s", flagSynopsis(f))
		}
	}
	return c, inv, nil
}

// parseHelp resolves the target of "help" written inside group (the root for
// "/dr help backup", backup for "/dr backup help delete").
func (t *Tree) parseHelp(group *Command, path, words []string) (*Command, *Invocation, error) {
	cur, target := group, slices.Clone(path)
	sawHelpFlag := false
	for _, word := range words {
		if body, ok := flagBody(word); ok && isHelpFlag(body) {
			sawHelpFlag = true
			continue
		}
		next := t.child(cur, word)
		if next == nil {
			return nil, nil, t.unknownCommand(cur, target, word)
		}
		cur, target = next, append(target, next.Name)
	}
	if sawHelpFlag && cur == group {
		target = []string{helpName} // "/dr help --help"
	}
	return t.helpFor(target)
}

// helpFor returns the built-in help command, invoked for target.
func (t *Tree) helpFor(target []string) (*Command, *Invocation, error) {
	inv := newInvocation(t.help, []string{helpName})
	inv.Args = slices.Clone(target)
	return t.help, inv, nil
}

func (t *Tree) stripTrigger(tokens []string) []string {
	if len(tokens) > 0 && equalFold(tokens[0], "/"+t.Root.Name) {
		return tokens[1:]
	}
	return tokens
}

// syntaxError reports a tokenizer error with the usage of the command typed
// before the broken quote, the nearest one we can know about.
func (t *Tree) syntaxError(line string, err error) error {
	var before []string
	var syntaxErr *SyntaxError
	if errors.As(err, &syntaxErr) {
		before, _ = Split(line[:syntaxErr.Offset])
	}
	_, path := t.lookup(t.stripTrigger(before))
	return t.usageError(path, "%v", err)
}

func (t *Tree) unknownCommand(group *Command, path []string, word string) error {
	msg := fmt.Sprintf("unknown command %q", word)
	if s := suggest(word, t.childNames(group)); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return t.usageError(path, "%s", msg)
}

func (t *Tree) unknownFlag(c *Command, path []string, name string) error {
	msg := "unknown flag --" + name
	names := make([]string, len(c.Flags))
	for i := range c.Flags {
		names[i] = c.Flags[i].Name
	}
	if s := suggest(name, names); s != "" {
		msg += fmt.Sprintf("; did you mean --%s?", s)
	} else if len(names) == 0 {
		msg += fmt.Sprintf(": %s takes no flags", t.commandLine(path))
	}
	return t.usageError(path, "%s", msg)
}

func (t *Tree) usageError(path []string, format string, args ...any) error {
	return &UsageError{
		Path:  slices.Clone(path),
		Msg:   fmt.Sprintf(format, args...),
		usage: t.Usage(path),
	}
}

// flagBody reports whether tok is written as a flag and returns it without
// the dashes; "--" alone gives an empty body. Phone keyboards with smart
// punctuation turn "--" into an em or en dash, so "—name" and "–name" are
// flags too; a lone dash character stays text, as in "a — b".
func flagBody(tok string) (string, bool) {
	if body, ok := strings.CutPrefix(tok, "--"); ok {
		return body, true
	}
	for _, dash := range []string{"—", "–"} {
		if body, ok := strings.CutPrefix(tok, dash); ok && body != "" {
			return body, true
		}
	}
	return "", false
}

func isHelpFlag(body string) bool {
	name, _, _ := strings.Cut(body, "=")
	return equalFold(name, helpName)
}

func describeArgCount(c *Command) string {
	plural := func(n int) string {
		if n == 1 {
			return "1 argument"
		}
		return fmt.Sprintf("%d arguments", n)
	}
	switch {
	case c.MaxArgs == 0:
		return "no arguments"
	case c.MaxArgs < 0:
		return "at least " + plural(c.MinArgs)
	case c.MinArgs == c.MaxArgs:
		return plural(c.MinArgs)
	case c.MinArgs == 0:
		return "at most " + plural(c.MaxArgs)
	default:
		return fmt.Sprintf("%d to %d arguments", c.MinArgs, c.MaxArgs)
	}
}

// suggest returns the candidate the user most likely meant: the first one
// that word is a prefix of, else the nearest by edit distance if it is close
// enough to be a typo rather than a different word.
func suggest(word string, candidates []string) string {
	word = strings.ToLower(word)
	if utf8.RuneCountInString(word) >= 2 {
		for _, c := range candidates {
			if strings.HasPrefix(c, word) {
				return c
			}
		}
	}
	limit := 1
	if utf8.RuneCountInString(word) >= 4 {
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
