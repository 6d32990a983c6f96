package plugin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/pgrepl"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status/probers"
)

// credentials are the secrets the DR settings document leaves out, from the settings and
// Mattermost's own database settings.
func (p *Plugin) credentials(cfg settings.Config) probers.Credentials {
	c := probers.Credentials{
		PostgresStandbyDSN: strings.TrimSpace(cfg.DRPostgresStandbyDataSource),
		AWSAccessKeyID:     cfg.DRAWSAccessKeyID, AWSSecretAccessKey: cfg.DRAWSSecretAccessKey,
		S3AccessKeyID: cfg.DRS3AccessKeyID, S3SecretAccessKey: cfg.DRS3SecretAccessKey,
		OpenSearchUsername: cfg.DROpenSearchUsername, OpenSearchPassword: cfg.DROpenSearchPassword,
	}
	if mm := p.API.GetUnsanitizedConfig(); mm != nil {
		o := pgrepl.FromSQLSettings(&mm.SqlSettings)
		c.PostgresPrimaryDSN = o.PrimaryDSN
		c.PostgresReplicaDSNs = append([]string{}, o.ReplicaDSNs...)
	}
	return c
}

// idpProber adds to the identity provider probe what to do for the users of a provider that
// is down.
type idpProber struct {
	status.Prober
	p *Plugin
}

// ReportsPartial is the wrapped probe's.
func (ip idpProber) ReportsPartial() bool {
	pr, ok := ip.Prober.(status.PartialReporter)
	return ok && pr.ReportsPartial()
}

// Probe runs the identity provider probe and adds the advice.
func (ip idpProber) Probe(ctx context.Context) probe.Result {
	r := ip.Prober.Probe(ctx)
	ip.p.addFallbackAdvice(ctx, &r)
	return r
}

// addFallbackAdvice adds, for each identity provider found down, how many of its users'
// sessions end within a day (they will not get back in) and the command that lets them in.
func (p *Plugin) addFallbackAdvice(ctx context.Context, r *probe.Result) {
	for _, m := range r.Metrics {
		service := m.Labels["service"]
		if m.Name != "dr_idp_up" || m.Value != 0 || service == "" {
			continue
		}
		n, err := p.ssoAdapter.UsersWithSessionsEndingWithin(ctx, service, 24*time.Hour)
		if err != nil {
			continue
		}
		r.Add(probe.Critical, fmt.Sprintf("/dr sso fallback --all --service %s --confirm (or name the users who need in now)", service),
			fmt.Sprintf("%d %s users have sessions that end within 24 hours: while %s is down they cannot sign in again", n, service, service))
	}
}
