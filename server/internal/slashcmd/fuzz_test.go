package slashcmd

import (
	"context"
	"errors"
	"testing"
)

func FuzzTreeParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"/dr",
		"/dr backup",
		"/dr backup now --only db,config --only files",
		`/dr backup delete 42 --reason "IdP down" --confirm`,
		`/dr backup delete latest --reason=“IdP down” --confirm=false`,
		"/dr sso bypass @Alice @bob --for 7d --reason x --mode FULL",
		"/dr backup list --limit -3 --older-than 1d12h",
		"/dr audit --since 1h -- --reason --help",
		"/dr failover eu-west",
		"/dr failover status extra",
		"/dr bakup now",
		"/dr help backup delete",
		"/dr help --help",
		"/dr backup help delet",
		"/dr backup --help",
		"/dr backup --only",
		"/dr backup delete --reason",
		"/dr backup delete 1 —reason x –confirm",
		`/dr backup now --reason "unterminated`,
		"/dr --=x ---- --- -",
		"/dr backup list --limit=99999999999999999999",
		"/DR HELP SSO BYPASS",
	} {
		f.Add(seed)
	}
	tree := sampleTree()
	f.Fuzz(func(t *testing.T, line string) {
		cmd, inv, err := tree.Parse(line)
		if err != nil {
			var usageErr *UsageError
			if !errors.As(err, &usageErr) {
				t.Fatalf("Parse(%q) returned %T (%v), want *UsageError", line, err, err)
			}
			if cmd != nil || inv != nil {
				t.Fatalf("Parse(%q) returned a command along with error %v", line, err)
			}
			_ = err.Error()
			return
		}
		if cmd == nil || inv == nil {
			t.Fatalf("Parse(%q) returned no command and no error", line)
		}
		// Parse succeeded, so the invocation must satisfy the declaration.
		if n := len(inv.Args); n < cmd.MinArgs || (cmd.MaxArgs >= 0 && n > cmd.MaxArgs) {
			t.Fatalf("Parse(%q) accepted %d positionals for %q", line, n, inv.Path)
		}
		for _, fl := range cmd.Flags {
			if fl.Required && !inv.Has(fl.Name) {
				t.Fatalf("Parse(%q) accepted %q without --%s", line, inv.Path, fl.Name)
			}
		}
		_ = inv.Mentions()
		if _, err := tree.Execute(context.Background(), line, Caller{}); err != nil {
			t.Fatalf("Execute(%q) failed after Parse succeeded: %v", line, err)
		}
	})
}
