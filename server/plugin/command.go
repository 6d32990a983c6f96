package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"
	mmplugin "github.com/mattermost/mattermost/server/public/plugin"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/slashcmd"
)

// refusalText is what a non-admin sees for any /dr command.
const refusalText = "The `/dr` commands are for system admins only. Ask a system admin of this server for help. This attempt was recorded."

// commands builds the one command tree every feature registers into.
func (p *Plugin) commands() *slashcmd.Tree {
	t := slashcmd.New(Trigger)
	t.Add(nil, &slashcmd.Command{
		Name:    "version",
		Summary: "Show the plugin version, the server version and this node",
		Run:     p.runVersion,
	})
	p.backupCommands(t)
	p.verifyCommands(t)
	p.statusCommands(t)
	p.ssoCommands(t)
	p.auditCommands(t)
	p.failoverCommands(t)
	return t
}

// ExecuteCommand answers /dr. Admin rights are checked before the text is even parsed, so a
// non-admin learns nothing about the commands, and every refusal is recorded.
func (p *Plugin) ExecuteCommand(_ *mmplugin.Context, args *model.CommandArgs) (*model.CommandResponse, *model.AppError) {
	if !p.IsSystemAdmin(args.UserId) {
		p.refused(args.UserId, "command", firstWords(args.Command, 3), "not a system admin")
		return ephemeral(refusalText), nil
	}
	resp, err := p.tree.Execute(context.Background(), args.Command, slashcmd.CallerFromArgs(args))
	if err != nil {
		var usage *slashcmd.UsageError
		if errors.As(err, &usage) {
			return ephemeral(usage.Error()), nil
		}
		return ephemeral("Error: " + err.Error()), nil
	}
	return ephemeral(resp.Text), nil
}

// refused logs a refused attempt by a non-admin. what is the command or route, never its
// arguments, which could hold a secret.
func (p *Plugin) refused(userID, kind, what, reason string) {
	p.API.LogWarn("Disaster Recovery refused a request", "user_id", userID, "kind", kind, "what", what, "reason", reason)
	if p.auditor != nil {
		actor := userID
		if u, err := p.API.GetUser(userID); err == nil {
			actor = u.Username
		}
		_, _ = p.auditor.Append(audit.Entry{ActorID: nonEmpty(userID, "anonymous"), Actor: nonEmpty(actor, "anonymous"), Action: "auth.refused", Target: what, Outcome: audit.OutcomeRefused, Reason: reason, Details: map[string]string{"via": kind}})
	}
}

func nonEmpty(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func (p *Plugin) runVersion(_ context.Context, _ *slashcmd.Invocation) (*slashcmd.Response, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Plugin | `%s` %s |\n", ID, Version)
	fmt.Fprintf(&b, "| Server | %s |\n", p.API.GetServerVersion())
	fmt.Fprintf(&b, "| Node | `%s` |\n", p.node)
	if pk, err := p.publicKey(); err == nil {
		fmt.Fprintf(&b, "| Backup signing key | `%s` (`%s`) |\n", pk.Fingerprint, pk.PublicKey)
	}
	if pgDump, err := p.pgDump(); err == nil {
		fmt.Fprintf(&b, "| pg_dump | `%s` |\n", pgDump)
	}
	if problems := append(p.configProblems(), p.toolProblems()...); len(problems) > 0 {
		fmt.Fprintf(&b, "\n**Settings need attention** (System Console > Plugins > Disaster Recovery):\n")
		for _, pr := range problems {
			fmt.Fprintf(&b, "- %s\n", pr)
		}
	}
	return &slashcmd.Response{Text: b.String()}, nil
}

func ephemeral(text string) *model.CommandResponse {
	return &model.CommandResponse{ResponseType: model.CommandResponseTypeEphemeral, Text: text, Username: "dr-bot"}
}

// firstWords keeps the command path ("/dr sso fallback") and drops arguments.
func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}
