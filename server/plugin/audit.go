package plugin

import (
	"fmt"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
)

// auditor appends to the plugin's own trail and, on servers that have it (10.10+), to
// Mattermost's audit log too. The plugin's trail is the one that counts: Mattermost drops
// audit records unless audit logging is configured.
type auditor struct {
	trail      *audit.Trail
	api        plugin.API
	mmAuditLog bool
}

func newAuditor(trail *audit.Trail, api plugin.API) *auditor {
	return &auditor{trail: trail, api: api, mmAuditLog: serverAtLeast(api.GetServerVersion(), 10, 10)}
}

// Append records e. A failure to write the trail is logged: the action it describes has
// already happened and must still be reported to the admin.
func (a *auditor) Append(e audit.Entry) (audit.Record, error) {
	rec, err := a.trail.Append(e)
	if err != nil {
		a.api.LogError("Cannot write the Disaster Recovery audit trail", "action", e.Action, "target", e.Target, "error", err.Error())
	}
	if a.mmAuditLog {
		r := &model.AuditRecord{EventName: "disasterRecovery." + e.Action, Status: string(e.Outcome), Meta: map[string]any{"target": e.Target, "reason": e.Reason, "seq": rec.Seq}}
		r.Actor.UserId = e.ActorID
		a.api.LogAuditRec(r)
	}
	return rec, err
}

// serverAtLeast compares a "major.minor.patch" server version.
func serverAtLeast(version string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(version, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}
