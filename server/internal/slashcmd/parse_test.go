package slashcmd

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tree := sampleTree()
	tests := []struct {
		name     string
		line     string
		wantCmd  string // Name of the returned command
		wantPath []string
		wantArgs []string
		check    func(t *testing.T, inv *Invocation)
	}{
		{
			name: "defaults", line: "/dr backup now",
			wantCmd: "now", wantPath: []string{"backup", "now"},
			check: func(t *testing.T, inv *Invocation) {
				assert.Equal(t, []string{"db", "config", "files"}, inv.List("only"))
				assert.False(t, inv.Has("only"))
				assert.Empty(t, inv.String("reason"))
			},
		},
		{
			name: "trigger optional", line: "backup now --only db,config",
			wantCmd: "now", wantPath: []string{"backup", "now"},
			check: func(t *testing.T, inv *Invocation) {
				assert.Equal(t, []string{"db", "config"}, inv.List("only"))
				assert.True(t, inv.Has("only"))
			},
		},
		{
			name: "names case-insensitive", line: "/DR Backup NOW --ONLY=db",
			wantCmd: "now", wantPath: []string{"backup", "now"},
			check: func(t *testing.T, inv *Invocation) { assert.Equal(t, []string{"db"}, inv.List("only")) },
		},
		{
			name: "repeated list flag appends", line: "/dr backup now --only db --only ' config, files ,'",
			wantCmd: "now", wantPath: []string{"backup", "now"},
			check: func(t *testing.T, inv *Invocation) {
				assert.Equal(t, []string{"db", "config", "files"}, inv.List("only"))
			},
		},
		{
			name: "quoted value", line: `/dr backup delete 42 --reason "IdP down"`,
			wantCmd: "delete", wantPath: []string{"backup", "delete"}, wantArgs: []string{"42"},
			check: func(t *testing.T, inv *Invocation) {
				assert.Equal(t, "IdP down", inv.String("reason"))
				assert.False(t, inv.Bool("confirm"))
				assert.False(t, inv.Has("confirm"))
			},
		},
		{
			name: "typographic quotes after equals", line: `/dr backup delete --reason=“IdP down” --confirm latest`,
			wantCmd: "delete", wantPath: []string{"backup", "delete"}, wantArgs: []string{"latest"},
			check: func(t *testing.T, inv *Invocation) {
				assert.Equal(t, "IdP down", inv.String("reason"))
				assert.True(t, inv.Bool("confirm"))
			},
		},
		{
			name: "bool with explicit false", line: `/dr backup delete 1 --reason x --confirm=false`,
			wantCmd: "delete", wantPath: []string{"backup", "delete"}, wantArgs: []string{"1"},
			check: func(t *testing.T, inv *Invocation) {
				assert.False(t, inv.Bool("confirm"))
				assert.True(t, inv.Has("confirm"))
			},
		},
		{
			name: "empty quoted value", line: `/dr backup delete 1 --reason ""`,
			wantCmd: "delete", wantPath: []string{"backup", "delete"}, wantArgs: []string{"1"},
			check: func(t *testing.T, inv *Invocation) {
				assert.True(t, inv.Has("reason"))
				assert.Empty(t, inv.String("reason"))
			},
		},
		{
			name: "smart punctuation dashes", line: `/dr backup delete 1 —reason outage –confirm`,
			wantCmd: "delete", wantPath: []string{"backup", "delete"}, wantArgs: []string{"1"},
			check: func(t *testing.T, inv *Invocation) {
				assert.Equal(t, "outage", inv.String("reason"))
				assert.True(t, inv.Bool("confirm"))
			},
		},
		{
			name: "mentions and duration in days", line: `/dr sso bypass @Alice @bob, @alice --for 7d --reason "IdP down"`,
			wantCmd: "bypass", wantPath: []string{"sso", "bypass"}, wantArgs: []string{"@Alice", "@bob,", "@alice"},
			check: func(t *testing.T, inv *Invocation) {
				assert.Equal(t, []string{"alice", "bob"}, inv.Mentions())
				assert.Equal(t, 7*24*time.Hour, inv.Duration("for"))
				assert.Equal(t, "read-only", inv.String("mode"))
			},
		},
		{
			name: "duration default and enum case", line: `/dr sso bypass @a --reason x --mode FULL`,
			wantCmd: "bypass", wantPath: []string{"sso", "bypass"}, wantArgs: []string{"@a"},
			check: func(t *testing.T, inv *Invocation) {
				assert.Equal(t, 24*time.Hour, inv.Duration("for"))
				assert.False(t, inv.Has("for"))
				assert.Equal(t, "full", inv.String("mode"))
			},
		},
		{
			name: "int and combined duration", line: `/dr backup list --limit 5 --older-than 1d12h`,
			wantCmd: "list", wantPath: []string{"backup", "list"},
			check: func(t *testing.T, inv *Invocation) {
				assert.Equal(t, 5, inv.Int("limit"))
				assert.Equal(t, 36*time.Hour, inv.Duration("older-than"))
			},
		},
		{
			name: "int default and negative value", line: `/dr backup list --limit -3`,
			wantCmd: "list", wantPath: []string{"backup", "list"},
			check: func(t *testing.T, inv *Invocation) { assert.Equal(t, -3, inv.Int("limit")) },
		},
		{
			name: "int default", line: `/dr backup list`,
			wantCmd: "list", wantPath: []string{"backup", "list"},
			check: func(t *testing.T, inv *Invocation) {
				assert.Equal(t, 10, inv.Int("limit"))
				assert.Zero(t, inv.Duration("older-than"))
			},
		},
		{
			name: "double dash ends flags", line: `/dr audit --since 24h -- --reason x --help`,
			wantCmd: "audit", wantPath: []string{"audit"}, wantArgs: []string{"--reason", "x", "--help"},
			check: func(t *testing.T, inv *Invocation) { assert.Equal(t, 24*time.Hour, inv.Duration("since")) },
		},
		{
			name: "flags between positionals", line: `/dr audit login --since 1h failed`,
			wantCmd: "audit", wantPath: []string{"audit"}, wantArgs: []string{"login", "failed"},
		},
		{
			name: "lone typographic dash is positional", line: `/dr audit a — b –`,
			wantCmd: "audit", wantPath: []string{"audit"}, wantArgs: []string{"a", "—", "b", "–"},
		},
		{
			name: "single dash is positional", line: `/dr audit - -x`,
			wantCmd: "audit", wantPath: []string{"audit"}, wantArgs: []string{"-", "-x"},
		},
		{
			name: "runnable group positional", line: "/dr failover eu-west",
			wantCmd: "failover", wantPath: []string{"failover"}, wantArgs: []string{"eu-west"},
		},
		{
			name: "runnable group subcommand", line: "/dr failover status",
			wantCmd: "status", wantPath: []string{"failover", "status"},
		},
		{name: "bare trigger", line: "/dr", wantCmd: "dr", wantPath: []string{}},
		{name: "empty line", line: "  ", wantCmd: "dr", wantPath: []string{}},
		{name: "pure group", line: "/dr backup", wantCmd: "backup", wantPath: []string{"backup"}},
		{name: "help", line: "/dr help", wantCmd: "help", wantPath: []string{"help"}, wantArgs: []string{}},
		{name: "--help at root", line: "/dr --help", wantCmd: "help", wantPath: []string{"help"}, wantArgs: []string{}},
		{
			name: "help with target", line: "/dr help Backup delete",
			wantCmd: "help", wantPath: []string{"help"}, wantArgs: []string{"backup", "delete"},
		},
		{
			name: "help inside group", line: "/dr backup help delete",
			wantCmd: "help", wantPath: []string{"help"}, wantArgs: []string{"backup", "delete"},
		},
		{
			name: "--help on group", line: "/dr backup --help",
			wantCmd: "help", wantPath: []string{"help"}, wantArgs: []string{"backup"},
		},
		{
			name: "--help wins over missing arguments", line: "/dr backup delete --help",
			wantCmd: "help", wantPath: []string{"help"}, wantArgs: []string{"backup", "delete"},
		},
		{
			name: "--help of help", line: "/dr help --help",
			wantCmd: "help", wantPath: []string{"help"}, wantArgs: []string{"help"},
		},
		{
			name: "help with --help", line: "/dr help backup --help",
			wantCmd: "help", wantPath: []string{"help"}, wantArgs: []string{"backup"},
		},
		{
			name: "help of help", line: "/dr help help",
			wantCmd: "help", wantPath: []string{"help"}, wantArgs: []string{"help"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, inv, err := tree.Parse(tt.line)
			require.NoError(t, err)
			require.NotNil(t, cmd)
			require.NotNil(t, inv)
			assert.Equal(t, tt.wantCmd, cmd.Name)
			assert.Equal(t, tt.wantPath, inv.Path)
			assert.Equal(t, tt.wantArgs, inv.Args)
			if tt.check != nil {
				tt.check(t, inv)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tree := sampleTree()
	tests := []struct {
		name     string
		line     string
		wantPath []string // nearest command, whose usage is shown
		wantMsg  string
	}{
		{"unknown command with suggestion", "/dr bakup now", []string{},
			`unknown command "bakup"; did you mean "backup"?`},
		{"unknown subcommand by prefix", "/dr backup delet 1", []string{"backup"},
			`unknown command "delet"; did you mean "delete"?`},
		{"unknown subcommand by typo", "/dr backup lsit", []string{"backup"},
			`unknown command "lsit"; did you mean "list"?`},
		{"unknown command without suggestion", "/dr frobnicate", []string{},
			`unknown command "frobnicate"`},
		{"help suggests too", "/dr help bakup", []string{},
			`unknown command "bakup"; did you mean "backup"?`},
		{"help suggests nested", "/dr help sso bypas", []string{"sso"},
			`unknown command "bypas"; did you mean "bypass"?`},
		{"runnable group without positionals", "/dr failover status extra", []string{"failover", "status"},
			`too many arguments: expected no arguments, got 1`},
		{"group given flags", "/dr backup --only db", []string{"backup"},
			`unexpected --only: /dr backup needs a subcommand first (one of now, delete, list)`},
		{"unknown flag with suggestion", "/dr backup now --onyl db", []string{"backup", "now"},
			`unknown flag --onyl; did you mean --only?`},
		{"unknown flag", "/dr backup now --frob", []string{"backup", "now"},
			`unknown flag --frob`},
		{"flag on command without flags", "/dr failover status --x", []string{"failover", "status"},
			`unknown flag --x: /dr failover status takes no flags`},
		{"missing value at end", "/dr backup delete 42 --reason", []string{"backup", "delete"},
			`missing value for --reason`},
		{"missing value before flag", "/dr backup delete 42 --reason --confirm", []string{"backup", "delete"},
			`missing value for --reason before --confirm (write --reason=VALUE if the value starts with --)`},
		{"missing value before double dash", "/dr backup delete 42 --reason -- x", []string{"backup", "delete"},
			`missing value for --reason before -- (write --reason=VALUE if the value starts with --)`},
		{"too few positionals", "/dr backup delete --reason x", []string{"backup", "delete"},
			`not enough arguments: expected 1 argument (<id|latest>), got 0`},
		{"too many positionals", "/dr backup delete 1 2 --reason x", []string{"backup", "delete"},
			`too many arguments: expected 1 argument (<id|latest>), got 2`},
		{"too many for optional", "/dr failover a b", []string{"failover"},
			`too many arguments: expected at most 1 argument ([region]), got 2`},
		{"mentions are positionals", "/dr sso bypass --reason x", []string{"sso", "bypass"},
			`not enough arguments: expected at least 1 argument (@user …), got 0`},
		{"positional after double dash counts", "/dr backup delete 1 --reason x -- --confirm", []string{"backup", "delete"},
			`too many arguments: expected 1 argument (<id|latest>), got 2`},
		{"missing required flag", "/dr backup delete 42", []string{"backup", "delete"},
			`missing required flag --reason <text>`},
		{"bad int", "/dr backup list --limit ten", []string{"backup", "list"},
			`--limit: invalid number "ten": want a whole number such as 7`},
		{"bad duration", "/dr backup list --older-than 3x", []string{"backup", "list"},
			`--older-than: invalid duration "3x": unknown unit "x"; use a number and a unit such as 30m, 24h, 7d or 1d12h (units: s, m, h, d, w)`},
		{"negative duration", "/dr sso bypass @a --reason x --for=-1h", []string{"sso", "bypass"},
			`--for: invalid duration "-1h": must be positive; use a number and a unit such as 30m, 24h, 7d or 1d12h (units: s, m, h, d, w)`},
		{"bad enum", "/dr sso bypass @a --reason x --mode maybe", []string{"sso", "bypass"},
			`--mode: invalid value "maybe": want one of read-only, full`},
		{"bad bool", "/dr backup delete 1 --reason x --confirm=maybe", []string{"backup", "delete"},
			`--confirm: invalid value "maybe": want true or false`},
		{"repeated flag", "/dr backup delete 1 --reason a --reason b", []string{"backup", "delete"},
			`--reason given more than once`},
		{"unterminated quote", `/dr backup now --reason "IdP down`, []string{"backup", "now"},
			`unterminated quote starting at character 25: close it with "`},
		{"unterminated quote early", `/dr "backup now`, []string{},
			`unterminated quote starting at character 5: close it with "`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, inv, err := tree.Parse(tt.line)
			assert.Nil(t, cmd)
			assert.Nil(t, inv)
			var usageErr *UsageError
			require.True(t, errors.As(err, &usageErr), "want *UsageError, got %T: %v", err, err)
			assert.Equal(t, tt.wantPath, usageErr.Path)
			assert.Equal(t, tt.wantMsg, usageErr.Msg)
			assert.Equal(t, tt.wantMsg+"\n\n"+tree.Usage(tt.wantPath), err.Error())
		})
	}
}

func TestSuggest(t *testing.T) {
	candidates := []string{"backup", "sso", "status", "stop", "help"}
	tests := []struct {
		word, want string
	}{
		{"bakup", "backup"},
		{"BACKUP", "backup"},
		{"bcakup", "backup"},
		{"st", "status"},
		{"s", ""},
		{"ss", "sso"},
		{"sos", ""},
		{"hlp", "help"},
		{"xyz", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.word, func(t *testing.T) {
			assert.Equal(t, tt.want, suggest(tt.word, candidates))
		})
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"backup", "backup", 0},
		{"bakup", "backup", 1},
		{"kitten", "sitting", 3},
		{"héllo", "hello", 1},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, editDistance(tt.a, tt.b), "%q vs %q", tt.a, tt.b)
		assert.Equal(t, tt.want, editDistance(tt.b, tt.a), "%q vs %q", tt.b, tt.a)
	}
}
