package format

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// Verification outcomes.
const (
	OutcomePassed  = "passed"
	OutcomeFailed  = "failed"
	OutcomePartial = "partial" // nothing wrong found, but contents could not be read (no identity)
	OutcomeSkipped = "skipped" // a check that could not run
)

const verificationName = "verification.json"

// VerificationKey is the key of a backup's verification sidecar.
func VerificationKey(id string) string { return BackupDir(id) + verificationName }

// Check is one part of a verification.
type Check struct {
	Name       string `json:"name"`
	Outcome    string `json:"outcome"`
	Detail     string `json:"detail"`
	DurationMS int64  `json:"duration_ms"`
}

// Verification is what Verify found, kept beside the manifest as verification.json.
type Verification struct {
	BackupID        string    `json:"backup_id"`
	Destination     string    `json:"destination,omitempty"`
	StartedAt       time.Time `json:"started_at"`
	FinishedAt      time.Time `json:"finished_at"`
	Outcome         string    `json:"outcome"`
	Drill           bool      `json:"drill"`
	ContentsChecked bool      `json:"contents_checked"`
	Checks          []Check   `json:"checks"`
	// Problems name each object or file that failed, and how.
	Problems       []string `json:"problems,omitempty"`
	DurationMS     int64    `json:"duration_ms"`
	DrillRestoreMS int64    `json:"drill_restore_ms,omitempty"`
	ObjectsRead    int64    `json:"objects_read"`
	BytesRead      int64    `json:"bytes_read"`

	// Provenance is who signed the verification.json as read (not stored in it).
	Provenance Provenance `json:"-"`
}

// Summary is one line for posts and lists.
func (v *Verification) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (%s", v.Outcome, v.FinishedAt.UTC().Format("2006-01-02 15:04Z"), (time.Duration(v.DurationMS) * time.Millisecond).Round(100*time.Millisecond))
	if v.Drill {
		fmt.Fprintf(&b, ", drill restore %s", (time.Duration(v.DrillRestoreMS) * time.Millisecond).Round(100*time.Millisecond))
	}
	b.WriteString(")")
	if !v.ContentsChecked {
		b.WriteString(": contents not checked, no identity")
	}
	if len(v.Problems) > 0 {
		fmt.Fprintf(&b, ": %s", v.Problems[0])
		if len(v.Problems) > 1 {
			fmt.Fprintf(&b, " (+%d more)", len(v.Problems)-1)
		}
	}
	return b.String()
}

// WriteVerification stores v as the backup's verification.json sidecar, unsigned.
func WriteVerification(ctx context.Context, s storage.Store, v *Verification) error {
	return WriteSignedVerification(ctx, s, v, nil)
}

// WriteSignedVerification stores v as the backup's verification.json sidecar, signed by k
// (verification.json.sig, written first) when k is set: only a signed verification counts as
// the newest verified backup (NewestVerified).
func WriteSignedVerification(ctx context.Context, s storage.Store, v *Verification, k *SigningKey) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := PutSigned(ctx, s, VerificationKey(v.BackupID), append(b, '\n'), k); err != nil {
		return fmt.Errorf("write the verification of backup %s at %s: %w", v.BackupID, s, err)
	}
	return nil
}

// ReadVerification reads a backup's verification.json; nil without error when it has none.
func ReadVerification(ctx context.Context, s storage.Reader, id string) (*Verification, error) {
	rc, err := s.Open(ctx, VerificationKey(id))
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("read the verification of backup %s at %s: %w", id, s, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read the verification of backup %s at %s: %w", id, s, err)
	}
	var v Verification
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("the verification of backup %s at %s is not valid JSON: %w", id, s, err)
	}
	if v.Provenance, err = CheckProvenance(ctx, s, VerificationKey(id), b); err != nil {
		return nil, err
	}
	return &v, nil
}
