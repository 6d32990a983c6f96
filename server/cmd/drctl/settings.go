package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/drsettings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// settingsSource are the flags that say where the DR settings document comes from and whom to
// trust for it; status and settings show share them.
type settingsSource struct {
	from, file, trustKey string
	allowUntrusted       bool
	s3                   s3Flags
}

func (s *settingsSource) register(fs *flag.FlagSet) {
	fs.StringVar(&s.from, "from", "", "backup destination holding the DR settings document: a folder or s3://bucket/prefix")
	fs.StringVar(&s.file, "settings", "", "read the DR settings document from this file instead (a copy of "+drsettings.Key+"; its .sig beside it)")
	fs.StringVar(&s.trustKey, "trust-key", "", "public key (\"ssh-ed25519 AAAA…\", as `/dr version` shows it) or a file holding it: only a document this key signed is used")
	fs.BoolVar(&s.allowUntrusted, "allow-untrusted", false, "use a document that is unsigned or signed by another key (only if you know where it came from)")
	s.s3.register(fs, "s3-", "--from")
}

// drSettings is a document that was read and trusted, with the destination it came from.
type drSettings struct {
	*drsettings.Loaded
	decision drsettings.Decision
	store    storage.Store      // --from; nil with --settings alone
	backups  []*format.Manifest // the complete backups at store, newest first
	listErr  error              // some backups could not be read
}

// load reads and checks the document.
func (s *settingsSource) load(ctx context.Context) (*drSettings, error) {
	if s.from == "" && s.file == "" {
		return nil, usageErr("say where the DR settings are: --from <folder|s3://bucket/prefix> (a backup destination), or --settings <file>")
	}
	key, err := loadTrustKey(s.trustKey)
	if err != nil {
		return nil, err
	}
	out := &drSettings{}
	if s.from != "" {
		if out.store, err = openStore(ctx, s.from, &s.s3); err != nil {
			return nil, err
		}
		out.backups, out.listErr = format.List(ctx, out.store)
	}
	if s.file != "" {
		out.Loaded, err = drsettings.ReadFile(s.file)
	} else {
		out.Loaded, err = drsettings.Read(ctx, out.store)
	}
	if err != nil {
		return nil, err
	}
	out.decision, err = drsettings.Trust{Key: key, AllowUntrusted: s.allowUntrusted}.Check(out.Loaded, out.backups)
	if err != nil {
		return nil, err
	}
	return out, nil
}

const settingsHelp = `drctl settings show --from <folder|s3://bucket/prefix> | --settings FILE [--trust-key KEY] [--json]:
print the DR settings document drctl uses (status and failover read it too), where it came from and who
signed it. Credentials are never in it.

--json prints one document:
  {"source": where it was read, "signer": fingerprint (absent: unsigned), "trusted",
   "note": who vouched for it, "document": the settings as the plugin wrote them}`

func runSettings(ctx context.Context, args []string, out, _ io.Writer) error {
	switch {
	case len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help"):
		args = []string{"show", "-h"}
	case len(args) == 0 || args[0] != "show":
		return usageErr("drctl settings show --from <folder|s3://bucket/prefix> [--json]: print the DR settings document drctl uses")
	}
	fs := flag.NewFlagSet("settings show", flag.ContinueOnError)
	var src settingsSource
	src.register(fs)
	asJSON := fs.Bool("json", false, "print one JSON document (its shape is above)")
	if err := parseFlags(fs, args[1:], out, settingsHelp); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	st, err := src.load(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeSettingsJSON(out, st)
	}
	// Who vouched for the document is part of what is shown.
	fmt.Fprintln(out, st.decision.Note)
	return writeSettingsText(out, st.Document)
}

func writeSettingsJSON(out io.Writer, st *drSettings) error {
	v := struct {
		Source   string              `json:"source"`
		Signer   string              `json:"signer,omitempty"`
		Trusted  bool                `json:"trusted"`
		Note     string              `json:"note"`
		Document drsettings.Document `json:"document"`
	}{st.Source, st.Provenance.Signer.Fingerprint(), !st.decision.Signer.IsZero(), st.decision.Note, st.Document}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeSettingsText prints the document as an admin reads it: one line per setting.
func writeSettingsText(out io.Writer, d drsettings.Document) error {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "  %s\t%s\n", k, v)
		}
	}
	head := func(s string) { fmt.Fprintf(tw, "%s\n", s) }
	head("Topology")
	line("topology", d.Topology)
	line("primary region", d.Regions.Primary)
	line("secondary region", d.Regions.Secondary)
	line("written in region", d.Regions.This)
	head("Database")
	if a := d.Database.Aurora; a != nil {
		line("Aurora global cluster", a.GlobalClusterID)
		line("primary cluster", a.PrimaryCluster)
		line("secondary cluster", a.SecondaryCluster)
	}
	if pg := d.Database.PostgreSQL; pg != nil {
		line("PostgreSQL primary", pg.PrimaryDSN)
		for _, r := range pg.ReplicaDSNs {
			line("PostgreSQL replica", r)
		}
		line("PostgreSQL DR standby", pg.StandbyDSN)
		line("passwords", "not stored: PGPASSWORD or ~/.pgpass")
	}
	if d.Database.Aurora == nil && d.Database.PostgreSQL == nil {
		line("replication", "none configured")
	}
	line("AWS endpoint", d.AWSEndpoint)
	if r := d.S3Replication; r != nil {
		head("S3 replication")
		line("buckets", r.PrimaryBucket+" ⇄ "+r.SecondaryBucket)
		line("endpoints", strings.Trim(r.PrimaryEndpoint+" ⇄ "+r.SecondaryEndpoint, " ⇄"))
		line("prefix", r.Prefix)
	}
	if o := d.OpenSearch; o != nil {
		head("OpenSearch cross-cluster replication")
		line("leader", o.PrimaryURL)
		line("follower", o.SecondaryURL)
		line("leader alias", o.LeaderAlias)
		line("indices", strings.Join(o.Indices, ", "))
	}
	if r := d.Route53; r != nil {
		head("Route 53")
		line("record", fmt.Sprintf("%s %s (zone %s, TTL %d)", r.RecordName, r.RecordType, r.ZoneID, r.TTL))
		line("primary", strings.Join(r.PrimaryValues, ", "))
		line("secondary", strings.Join(r.SecondaryValues, ", "))
	}
	head("Thresholds")
	line("database lag (RPO)", d.Thresholds.RPOLag)
	line("backups stale after", d.Thresholds.BackupStaleAfter)
	head("Backup destinations")
	if l := d.Backups.Local; l != nil {
		line("local folder", l.Folder)
	}
	if s := d.Backups.S3; s != nil {
		line("S3", strings.TrimSpace(s.URL()+" "+s.Region+" "+s.Endpoint))
	}
	if ip := d.IdentityProviders; ip != nil {
		head("Identity providers")
		if ip.SAML != nil {
			line("SAML", strings.TrimSpace(ip.SAML.IdpURL+" "+ip.SAML.IdpMetadataURL))
		}
		if ip.LDAP != nil {
			line("LDAP", ip.LDAP.Server)
		}
		svcs := make([]string, 0, len(ip.OAuth))
		for svc := range ip.OAuth {
			svcs = append(svcs, svc)
		}
		sort.Strings(svcs)
		for _, svc := range svcs {
			o := ip.OAuth[svc]
			line(svc, strings.TrimSpace(o.DiscoveryEndpoint+" "+o.AuthEndpoint))
		}
	}
	head("Backup signing key")
	line("public key", d.SigningKey)
	if len(d.Omitted) > 0 {
		head("Left out (could not be made safe)")
		for _, o := range d.Omitted {
			line("-", o)
		}
	}
	return tw.Flush()
}
