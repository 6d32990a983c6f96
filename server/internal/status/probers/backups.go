package probers

import (
	"context"
	"fmt"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/backups"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// DestinationBackups reads the backup catalogue from a destination, for a front end without
// the plugin's record: the newest backup signed by one of keys, and the newest whose
// verification passed and is signed by one of keys (format.NewestVerified). A backup anyone
// else wrote does not count. offSiteElsewhere says the settings also send backups off-site,
// so that a backup read from a local folder is not reported as local only.
func DestinationBackups(st storage.Reader, keys []format.PublicKey, offSiteElsewhere bool) func(context.Context) (backups.Input, error) {
	return func(ctx context.Context) (backups.Input, error) {
		in := backups.Input{Enabled: true}
		ms, err := format.List(ctx, st)
		if err != nil && len(ms) == 0 {
			return in, fmt.Errorf("read the backups at %s: %w", st, err)
		} // else what could be read counts; an unreadable manifest is not a backup
		trust := format.Trust{Keys: keys}
		all, _ := trust.Classify(st.String(), ms)
		var trusted []*format.Manifest
		for _, m := range all {
			if m.Class() != format.ClassCapture { // a file capture holds no database nor config
				trusted = append(trusted, m)
			}
		}
		if len(trusted) == 0 {
			return in, nil
		}
		newest := trusted[0]
		in.NewestSuccess = newest.FinishedAt
		in.LocalOnly = !newest.OffSite && !offSiteElsewhere
		in.UnencryptedSecrets = !newest.Encryption.Encrypted && newest.Components.Config
		if id := format.NewestVerified(ctx, st, trusted, trust); id != "" {
			if v, err := format.ReadVerification(ctx, st, id); err == nil && v != nil {
				in.NewestVerified = v.FinishedAt
			}
		}
		return in, nil
	}
}
