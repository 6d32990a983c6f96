package format

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// FormatVersion is the newest version of the layout and the manifest this package reads and
// writes. Readers refuse manifests of a newer version.
//
//   - 1: every pool object is zstd (then age when encrypted).
//   - 2: the file index may also name raw pool objects (IndexEntry.Enc, RawPoolKey), copied
//     server-side from an S3 file store. Only backups whose index names one are written as 2
//     (formatVersion): earlier plugin versions, which would look for them at PoolKey and not
//     find them, refuse those and still read the others.
const FormatVersion = 2

// StatusComplete is the status of every manifest: a manifest is only written once everything
// else of the backup is stored.
const StatusComplete = "complete"

// Keys and names of the layout (see the package comment).
const (
	BackupsPrefix = "backups/"
	PoolPrefix    = "pool/"
	ManifestName  = "manifest.json"
)

// Object components, as recorded in Manifest.Objects.
const (
	ComponentDatabase   = "database"   // database.dump.zst: pg_dump -Fc
	ComponentReferenced = "referenced" // referenced.jsonl.zst: file paths the database refers to
	ComponentConfig     = "config"     // config.tar.zst: effective-config.json and files/<name>
	ComponentFilesIndex = "files"      // files.jsonl.zst: the file index
	// ComponentBase is base.tar.zst: pg_basebackup's tar of the whole cluster, the start of a
	// point-in-time recovery (with the WAL archive, see walarchive).
	ComponentBase = "base"
)

// Names inside config.tar.
const (
	EffectiveConfigName = "effective-config.json"
	ConfigFilesDir      = "files/"
)

// Components says what a backup holds.
type Components struct {
	Database bool `json:"database"`
	Config   bool `json:"config"`
	Files    bool `json:"files"`
	// Base is a physical base backup of the cluster (pg_basebackup), for point-in-time recovery.
	Base bool `json:"base,omitempty"`
}

func (c Components) String() string {
	var parts []string
	if c.Database {
		parts = append(parts, "database")
	}
	if c.Config {
		parts = append(parts, "config")
	}
	if c.Files {
		parts = append(parts, "files")
	}
	if c.Base {
		parts = append(parts, "base backup")
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "+")
}

// Classes of backup (Manifest.Class). They are kept, listed and restored differently.
const (
	// ClassLogical is a backup `drctl restore --id` restores on its own: the database dump
	// and/or the config, usually with the file index.
	ClassLogical = "logical"
	// ClassBase is a base backup (pg_basebackup): restored only with WAL, by point in time.
	ClassBase = "base"
	// ClassCapture is a continuous file capture (Manifest.Kind): a file index only, taken
	// between backups so that a point-in-time restore finds the files uploaded since the last
	// backup. A files-only backup an admin asks for is logical, not a capture.
	ClassCapture = "capture"
)

// Class says which class of backup m is (ClassLogical, ClassBase or ClassCapture).
func (m *Manifest) Class() string {
	switch {
	case m.Kind == ClassCapture:
		return ClassCapture
	case m.Components.Base:
		return ClassBase
	default:
		return ClassLogical
	}
}

// Compression describes how objects are compressed.
type Compression struct {
	Algorithm string `json:"algorithm"` // "zstd"
	Level     int    `json:"level"`     // 1 (fastest) … 4 (best)
}

// Encryption describes how objects are encrypted. It never holds a key: recipients appear as
// fingerprints (Fingerprint), so that an operator can tell which identity a backup needs.
type Encryption struct {
	Encrypted  bool     `json:"encrypted"`
	Algorithm  string   `json:"algorithm,omitempty"`  // "age" when encrypted
	Recipients []string `json:"recipients,omitempty"` // fingerprints of the age recipients, sorted
	// IndexRecipient is the fingerprint of the plugin's own index key, to which the file index
	// (and only it) is also encrypted, so that later runs can read it (see Options.IndexIdentity).
	IndexRecipient string `json:"index_recipient,omitempty"`
}

// Object is one stored object of a backup.
type Object struct {
	Key       string `json:"key"`
	Component string `json:"component"`
	Size      int64  `json:"size"`       // bytes as stored (compressed, encrypted)
	SHA256    string `json:"sha256"`     // of the bytes as stored
	PlainSize int64  `json:"plain_size"` // bytes before compression and encryption
}

// FileStats describes the file store part of a backup at one destination.
type FileStats struct {
	Count          int64  `json:"count"`            // files in the index
	Bytes          int64  `json:"bytes"`            // their total plain size
	Unchanged      int64  `json:"unchanged"`        // taken from the previous index without reading them
	Hashed         int64  `json:"hashed"`           // read to compute their SHA-256
	Skipped        int64  `json:"skipped"`          // vanished during the backup or with unusable names
	NewPoolObjects int64  `json:"new_pool_objects"` // pool objects this backup added at this destination
	BytesUploaded  int64  `json:"bytes_uploaded"`   // stored size of those it uploaded (not those copied)
	PreviousBackup string `json:"previous_backup,omitempty"`
	// ServerSideCopied of the new pool objects were copied by the S3 service from the file
	// store's bucket (stored raw) instead of being read and uploaded; BytesCopied is their size.
	ServerSideCopied int64 `json:"server_side_copied,omitempty"`
	BytesCopied      int64 `json:"bytes_copied,omitempty"`
}

// Manifest describes a complete backup at one destination. It is written last, as the commit
// marker, in plain JSON (never encrypted: listing and checking backups need no identity), and
// holds no secret.
type Manifest struct {
	FormatVersion         int        `json:"format_version"`
	ID                    string     `json:"id"`
	Status                string     `json:"status"`
	StartedAt             time.Time  `json:"started_at"`
	FinishedAt            time.Time  `json:"finished_at"`
	MattermostVersion     string     `json:"mattermost_version,omitempty"`
	PluginVersion         string     `json:"plugin_version,omitempty"`
	DatabaseSchemaVersion string     `json:"database_schema_version,omitempty"`
	PostgresVersion       string     `json:"postgres_version,omitempty"`
	PgDumpVersion         string     `json:"pg_dump_version,omitempty"`
	Components            Components `json:"components"`
	// Kind is ClassCapture for a continuous file capture, else empty (see Class).
	Kind            string           `json:"kind,omitempty"`
	Destination     string           `json:"destination"`
	OffSite         bool             `json:"off_site"`
	Compression     Compression      `json:"compression"`
	Encryption      Encryption       `json:"encryption"`
	Objects         []Object         `json:"objects"`
	TableRowCounts  map[string]int64 `json:"table_row_counts,omitempty"`
	ReferencedFiles int64            `json:"referenced_files,omitempty"`
	Files           *FileStats       `json:"files,omitempty"`
	Warnings        []string         `json:"warnings,omitempty"`
	// Base describes the base backup when Components.Base: where its WAL starts and ends.
	Base *BaseBackup `json:"base,omitempty"`
	// AuditHead is the plugin's audit trail head when the backup started: a copy outside the
	// database that `/dr audit verify` checks the chain against.
	AuditHead *AuditAnchor `json:"audit_head,omitempty"`
	// Checksum is the SHA-256 of the manifest's own bytes with this value replaced by
	// checksumPlaceholder (see sealManifest): an edited or truncated manifest is detected even
	// where the edit leaves valid JSON. Absent in manifests of plugin versions before 0.1.0.
	Checksum string `json:"checksum,omitempty"`

	// Provenance is who signed the manifest as read (not stored in it): see sign.go.
	Provenance Provenance `json:"-"`
}

// BaseBackup is what a point-in-time recovery needs to know of a base backup: the WAL from
// StartWAL up to and including EndWAL must be replayed before the cluster is consistent, and
// only WAL of the same cluster (SystemID) and timeline history applies to it.
type BaseBackup struct {
	SystemID       string `json:"system_identifier"` // pg_control_system().system_identifier, decimal
	Timeline       uint32 `json:"timeline"`
	StartLSN       string `json:"start_lsn"` // "0/2000028"
	EndLSN         string `json:"end_lsn"`
	StartWAL       string `json:"start_wal"` // WAL segment file names (24 hex digits)
	EndWAL         string `json:"end_wal"`
	WALSegmentSize int64  `json:"wal_segment_size"` // bytes, 16 MiB unless initdb --wal-segsize
}

// AuditAnchor is the head (last record) of the audit trail: its seq and hash.
type AuditAnchor struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// Object returns the object of the given component, or nil.
func (m *Manifest) Object(component string) *Object {
	for i := range m.Objects {
		if m.Objects[i].Component == component {
			return &m.Objects[i]
		}
	}
	return nil
}

// Size is the total stored size of the backup's own objects (pool objects not included).
func (m *Manifest) Size() int64 {
	var n int64
	for _, o := range m.Objects {
		n += o.Size
	}
	return n
}

// Fingerprint is a stable, non-secret name for an age recipient: the first 16 hex digits of
// the SHA-256 of the recipient string.
func Fingerprint(recipient string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(recipient)))
	return hex.EncodeToString(sum[:8])
}

var idPattern = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._-]{0,99}$`)

// NewID returns a new backup ID: the UTC time and 4 random hex digits,
// 20261126T130501Z-ab12. IDs sort by time.
func NewID() string {
	return NewIDAt(time.Now())
}

// NewIDAt is NewID for a backup started at t.
func NewIDAt(t time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// ValidateID checks that id can name a backup folder.
func ValidateID(id string) error {
	if !idPattern.MatchString(id) || strings.HasPrefix(id, storage.TempPrefix) {
		return fmt.Errorf("invalid backup ID %q: use letters, digits, '.', '_' and '-' (such as %s)", id, NewIDAt(time.Now()))
	}
	return nil
}

// BackupDir is the folder of backup id: backups/<id>/.
func BackupDir(id string) string { return BackupsPrefix + id + "/" }

// ManifestKey is the key of a backup's manifest.
func ManifestKey(id string) string { return BackupDir(id) + ManifestName }

// PoolKey is the key of the zstd (and age) pool object holding the content whose SHA-256 is
// sum (hex); RawPoolKey is the raw one's, and IndexEntry.PoolKey the one an index entry names.
func PoolKey(sum string) string { return PoolPrefix + sum[:2] + "/" + sum }

// ErrNoBackup is wrapped when a backup does not exist (has no manifest).
var ErrNoBackup = errors.New("no such backup")

// ReadManifest reads the manifest of backup id.
func ReadManifest(ctx context.Context, s storage.Reader, id string) (*Manifest, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	rc, err := s.Open(ctx, ManifestKey(id))
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("backup %s at %s: %w (no manifest: it does not exist or did not complete)", id, s, ErrNoBackup)
		}
		return nil, fmt.Errorf("read the manifest of backup %s at %s: %w", id, s, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read the manifest of backup %s at %s: %w", id, s, err)
	}
	m, err := ParseManifest(b, id, s)
	if err != nil {
		return nil, err
	}
	if m.Provenance, err = CheckProvenance(ctx, s, ManifestKey(id), b); err != nil {
		return nil, err
	}
	return m, nil
}

// checksumPlaceholder stands for the checksum while it is computed: 64 zeros, the length of
// the value, so sealing does not move any other byte.
var checksumPlaceholder = strings.Repeat("0", 64)

var checksumField = regexp.MustCompile(`"checksum": ?"([0-9a-f]{64})"`)

// MarshalManifest encodes m (indented, newline-terminated) with its checksum filled in.
func MarshalManifest(m *Manifest) ([]byte, error) {
	m.Checksum = checksumPlaceholder
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	loc := checksumField.FindSubmatchIndex(b)
	if loc == nil {
		return nil, errors.New("manifest: checksum field missing after encoding")
	}
	sum := sha256.Sum256(b)
	m.Checksum = hex.EncodeToString(sum[:])
	copy(b[loc[2]:loc[3]], m.Checksum)
	return b, nil
}

// CheckManifestSum checks the checksum of a manifest's bytes. ok is false when the manifest
// has none (written before checksums existed).
func CheckManifestSum(b []byte) (ok bool, err error) {
	loc := checksumField.FindSubmatchIndex(b)
	if loc == nil {
		return false, nil
	}
	want := string(b[loc[2]:loc[3]])
	c := append([]byte(nil), b...)
	copy(c[loc[2]:loc[3]], checksumPlaceholder)
	sum := sha256.Sum256(c)
	if hex.EncodeToString(sum[:]) != want {
		return true, errors.New("its checksum does not match its content: it was edited or damaged after it was written")
	}
	return true, nil
}

// ParseManifest checks and decodes the manifest bytes b of backup id read from s.
func ParseManifest(b []byte, id string, s storage.Reader) (*Manifest, error) {
	if _, err := CheckManifestSum(b); err != nil {
		return nil, fmt.Errorf("the manifest of backup %s at %s is not valid: %w", id, s, err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("the manifest of backup %s at %s is not valid JSON: %w", id, s, err)
	}
	switch {
	case m.FormatVersion > FormatVersion:
		return nil, fmt.Errorf("the manifest of backup %s at %s has format version %d; this plugin reads up to %d: upgrade the plugin", id, s, m.FormatVersion, FormatVersion)
	case m.FormatVersion < 1:
		return nil, fmt.Errorf("the manifest of backup %s at %s has no format version", id, s)
	case m.ID != id:
		return nil, fmt.Errorf("the manifest of backup %s at %s names backup %q", id, s, m.ID)
	case m.Status != StatusComplete:
		return nil, fmt.Errorf("the manifest of backup %s at %s has status %q", id, s, m.Status)
	}
	return &m, nil
}

// Folder is what List and the cleanups know of one backups/<id>/ folder.
type Folder struct {
	ID          string
	HasManifest bool
	Objects     []storage.ObjectInfo
	Oldest      time.Time // oldest object's modification time (the store's clock)
	Newest      time.Time
}

// ListFolders lists every backups/<id>/ folder, in ID order.
func ListFolders(ctx context.Context, s storage.Reader) ([]*Folder, error) {
	var out []*Folder
	err := s.List(ctx, BackupsPrefix, func(o storage.ObjectInfo) error {
		rest := strings.TrimPrefix(o.Key, BackupsPrefix)
		id, name, ok := strings.Cut(rest, "/")
		if !ok || id == "" {
			return nil // not part of the layout
		}
		var f *Folder
		if n := len(out); n > 0 && out[n-1].ID == id {
			f = out[n-1]
		} else {
			f = &Folder{ID: id}
			out = append(out, f)
		}
		f.Objects = append(f.Objects, o)
		if name == ManifestName {
			f.HasManifest = true
		}
		if f.Oldest.IsZero() || o.ModTime.Before(f.Oldest) {
			f.Oldest = o.ModTime
		}
		if o.ModTime.After(f.Newest) {
			f.Newest = o.ModTime
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the backups at %s: %w", s, err)
	}
	return out, nil
}

// List returns the complete backups at s (those with a manifest), newest first. Folders
// without a manifest are incomplete (running, failed or crashed) and are left out. A manifest
// that cannot be read is left out too and reported in the error, which then comes with the
// backups that could be read: a caller deciding what to delete must stop on any error.
func List(ctx context.Context, s storage.Reader) ([]*Manifest, error) {
	ms, unreadable, err := ListManifests(ctx, s)
	if err != nil {
		return nil, err
	}
	errs := make([]error, 0, len(unreadable))
	for _, u := range unreadable {
		errs = append(errs, u.Err)
	}
	return ms, errors.Join(errs...)
}

// UnreadableManifest is a backups/<id>/manifest.json that could not be read or parsed.
type UnreadableManifest struct {
	ID  string
	Err error
}

// ListManifests is List with the manifests that could not be read kept apart, by id.
func ListManifests(ctx context.Context, s storage.Reader) ([]*Manifest, []UnreadableManifest, error) {
	folders, err := ListFolders(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	var ms []*Manifest
	var unreadable []UnreadableManifest
	for _, f := range folders {
		if !f.HasManifest {
			continue
		}
		m, err := ReadManifest(ctx, s, f.ID)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			unreadable = append(unreadable, UnreadableManifest{ID: f.ID, Err: err})
			continue
		}
		ms = append(ms, m)
	}
	SortNewestFirst(ms)
	return ms, unreadable, nil
}

// SortNewestFirst sorts ms by start time, newest first, then by ID.
func SortNewestFirst(ms []*Manifest) {
	sort.SliceStable(ms, func(i, j int) bool {
		if !ms[i].StartedAt.Equal(ms[j].StartedAt) {
			return ms[i].StartedAt.After(ms[j].StartedAt)
		}
		return ms[i].ID > ms[j].ID
	})
}
