package slashcmd

import (
	"context"
	"strings"
)

// echo is a handler that reports what it received, for Execute tests.
func echo(_ context.Context, inv *Invocation) (*Response, error) {
	return &Response{Text: strings.Join(inv.Path, " ") + ":" + strings.Join(inv.Args, ",") + ":" + inv.Caller.UserID}, nil
}

// sampleTree exercises every feature of the tree: pure and runnable groups,
// every flag kind, required flags, defaults and positional limits.
func sampleTree() *Tree {
	t := New("/dr")
	t.Root.Summary = "Disaster recovery"
	t.Add(nil, &Command{Name: "backup", Summary: "Manage backups"})
	t.Add([]string{"backup"}, &Command{
		Name:    "now",
		Summary: "Take a backup now",
		Flags: []Flag{
			{Name: "only", Kind: List, Help: "Parts to back up", Default: "db,config,files"},
			{Name: "reason", Kind: String, Help: "Why"},
		},
		Run: echo,
	})
	t.Add([]string{"backup"}, &Command{
		Name:    "delete",
		Summary: "Delete a backup",
		Args:    "<id|latest>",
		MinArgs: 1,
		MaxArgs: 1,
		Flags: []Flag{
			{Name: "confirm", Kind: Bool, Help: "Really delete"},
			{Name: "reason", Kind: String, Help: "Why", Required: true},
		},
		Run: echo,
	})
	t.Add([]string{"backup"}, &Command{
		Name:    "list",
		Summary: "List backups",
		Flags: []Flag{
			{Name: "limit", Kind: Int, Help: "How many", Default: "10"},
			{Name: "older-than", Kind: Duration, Help: "Only older backups"},
		},
		Run: echo,
	})
	// Registered with its subcommand already attached.
	t.Add(nil, &Command{
		Name:    "sso",
		Summary: "Single sign-on emergency access",
		Subcommands: []*Command{{
			Name:    "bypass",
			Summary: "Let users log in without SSO",
			Args:    "@user …",
			MinArgs: 1,
			MaxArgs: -1,
			Flags: []Flag{
				{Name: "for", Kind: Duration, Help: "How long", Default: "24h"},
				{Name: "reason", Kind: String, Help: "Why", Required: true},
				{Name: "mode", Kind: Enum, Help: "Access level", Values: []string{"read-only", "full"}, Default: "read-only"},
			},
			Run: echo,
		}},
	})
	t.Add(nil, &Command{
		Name:    "failover",
		Summary: "Fail over to another region",
		Args:    "[region]",
		MaxArgs: 1,
		Run:     echo,
	})
	t.Add([]string{"failover"}, &Command{Name: "status", Summary: "Show failover status", Run: echo})
	t.Add(nil, &Command{
		Name:    "audit",
		Summary: "Search the audit log",
		Args:    "[text …]",
		MaxArgs: -1,
		Flags:   []Flag{{Name: "since", Kind: Duration, Help: "Window"}},
		Run:     echo,
	})
	return t
}
