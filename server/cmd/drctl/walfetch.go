package main

import (
	"context"
	"errors"
	"flag"
	"io"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/walarchive"
)

const walFetchHelp = `drctl wal-fetch --from <folder|s3://bucket/prefix> --trust-key KEY [--identity FILE] [--partial] FILE PATH:
PostgreSQL's restore_command for a point-in-time restore (drctl restore --to-time writes it): copy WAL
file FILE (%f) from the archive to PATH (%p), checked: signed by the trust key, decrypted, and a segment
must start with its own header. Exit 0: copied; 1: not in the archive (the end of the WAL, to
PostgreSQL); 126: refused or unreadable, which stops the recovery instead of ending it early.
With --partial, the segment being written when the archive was last updated is given from its copy.`

// walFetchRefused is the exit status that makes PostgreSQL abort a recovery (any status above
// 125): a damaged or planted WAL file must stop it, not pass for the end of the archive.
const walFetchRefused = 126

func runWalFetch(ctx context.Context, args []string, out, _ io.Writer) error {
	fs := flag.NewFlagSet("wal-fetch", flag.ContinueOnError)
	var from, identity, trustKey string
	var partial bool
	var s3f s3Flags
	fs.StringVar(&from, "from", "", "the destination holding the WAL archive: a folder or s3://bucket/prefix")
	fs.StringVar(&identity, "identity", "", "age identity file that decrypts the archive (or DR_AGE_IDENTITY_FILE)")
	fs.StringVar(&trustKey, "trust-key", "", trustKeyHelp)
	fs.BoolVar(&partial, "partial", false, "give the segment being written from its partial copy when the archive has no whole one")
	s3f.register(fs, "s3-", "--from")
	if err := parseFlags(fs, args, out, walFetchHelp); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageErr("want the WAL file name (%%f) and the path to write it to (%%p)")
	}
	refused := func(err error) error { return &exitError{code: walFetchRefused, err: err} }
	key, err := loadTrustKey(trustKey)
	if err != nil {
		return refused(err)
	}
	if key.IsZero() {
		return refused(usageErr("--trust-key is required: only WAL the server signed is replayed"))
	}
	st, err := openStore(ctx, from, &s3f)
	if err != nil {
		return refused(err)
	}
	ids, err := loadIdentities(identity)
	if err != nil {
		return refused(err)
	}
	r := &walarchive.Reader{Store: st, Keys: []format.PublicKey{key}, Identities: ids}
	sys, err := r.System(ctx)
	if err != nil {
		return refused(err)
	}
	err = r.Fetch(ctx, sys, fs.Arg(0), fs.Arg(1), partial)
	switch {
	case errors.Is(err, walarchive.ErrNotArchived):
		return &exitError{code: 1} // silent: PostgreSQL asks for files past the end as a matter of course
	case err != nil:
		return refused(err)
	}
	return nil
}
