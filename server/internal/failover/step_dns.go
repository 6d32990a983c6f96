package failover

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/rds"
)

// dnsStep points the record users resolve at the new region (Route 53), or says exactly what
// to change when Route 53 is not configured.
type dnsStep struct{}

func (dnsStep) Title() string { return "DNS: point users at the new region" }

func (dnsStep) Calls(live Live, _ *Run, rec *StepRecord) string {
	d := live.DNS
	if d.ZoneID == "" {
		return "nothing: Route 53 is not configured, so it shows the record to change by hand"
	}
	return fmt.Sprintf("Route 53 ChangeResourceRecordSets UPSERT %s %s → %s (zone %s, TTL %d), then GetChange every %s until INSYNC",
		d.Name, d.Type, listOr(live.region(rec.To).DNSValues, "<not set>"), d.ZoneID, ttl(d), live.poll())
}

func ttl(d DNSRecord) int64 {
	if d.TTL > 0 {
		return d.TTL
	}
	return 60
}

func (dnsStep) Run(ctx context.Context, sc *StepContext) Result {
	live, from, to := sc.Live, sc.Step.From, sc.Step.To
	d := live.DNS
	values := live.region(to).DNSValues
	if d.ZoneID == "" {
		name := nonEmpty(d.Name, hostOf(live.SiteURL))
		target := "the load balancer of " + to
		if len(values) > 0 {
			target = strings.Join(values, ", ")
		}
		return Result{State: StepManual, Detail: fmt.Sprintf("Change the DNS record %s to %s at your DNS provider (Route 53 is not configured, so the plugin cannot). Clients follow within the record's TTL.", nonEmpty(name, "users resolve"), target)}
	}
	if len(values) == 0 {
		return Failed(fmt.Errorf("the Route 53 value for %s is not set", to), "Set the record's value for "+to+" in the plugin settings (DNS and failover), then `/dr failover resume`.")
	}
	c, err := live.route53(ctx)
	if err != nil {
		return Failed(err, "Check the AWS settings, then `/dr failover resume`.")
	}
	id := sc.Data("change")
	if id == "" {
		id, err = c.UpsertRecord(ctx, d.ZoneID, d.Name, d.Type, ttl(d), values)
		if err != nil {
			next := "Check the hosted zone and the record settings, then `/dr failover resume`."
			if rds.IsAuthError(err) {
				next = "AWS refused the credentials or the permission: allow route53:ChangeResourceRecordSets and route53:GetChange on the hosted zone, then `/dr failover resume`."
			}
			return Failed(err, next)
		}
		if err := sc.Save("change", id); err != nil {
			return Failed(err, "`/dr failover resume`")
		}
		sc.Hit("failover.dns.requested")
	}
	start := time.Now()
	waitCtx, cancel := context.WithTimeout(ctx, min(live.wait(), 15*time.Minute))
	defer cancel()
	sc.progress("waiting for Route 53 change %s to be INSYNC", id)
	if err := c.WaitInsync(waitCtx, id, live.poll()); err != nil {
		return Failed(err, "The change is made but not yet everywhere: `/dr failover resume` waits again without changing the record twice.")
	}
	back := listOr(live.region(from).DNSValues, "the old value")
	return Result{Detail: fmt.Sprintf("%s %s → %s (change %s, INSYNC after %s)", d.Name, d.Type, strings.Join(values, ", "), id, time.Since(start).Round(100*time.Millisecond)),
		Undo: fmt.Sprintf("UPSERT %s %s back to %s (`/dr failback` does)", d.Name, d.Type, back)}
}

func hostOf(siteURL string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(siteURL, "https://"), "http://")
	if i := strings.IndexAny(s, "/:"); i >= 0 {
		s = s[:i]
	}
	return s
}
