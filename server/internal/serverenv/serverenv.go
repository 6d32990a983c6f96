// Package serverenv finds, from inside the plugin process, where the Mattermost server keeps
// its things: its working folder (relative paths such as ./data are relative to it), its config
// (a file, or the database), and its file store. The plugin runs as a child process of the
// server with another working folder, so none of this can be taken from the plugin's own view.
package serverenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"
)

// Server describes the running Mattermost server.
type Server struct {
	Root string // the server's working folder
	// ConfigFile is the config.json in use, or "" when config lives in the database.
	ConfigFile string
	// ConfigDSN is the database holding the config (MM_CONFIG=postgres://…), or "".
	ConfigDSN string
}

// Detect inspects the parent process (the server): its working folder, its --config flag and
// its MM_CONFIG variable. proc is "/proc" outside tests.
func Detect(proc string, ppid int) (*Server, error) {
	base := filepath.Join(proc, strconv.Itoa(ppid))
	root, err := os.Readlink(filepath.Join(base, "cwd"))
	if err != nil {
		return nil, fmt.Errorf("find the Mattermost server's folder (reading %s/cwd): %w", base, err)
	}
	s := &Server{Root: root}
	cfg := "config.json" // the server's default, found in ./config/
	if args, err := os.ReadFile(filepath.Join(base, "cmdline")); err == nil {
		if v := flagValue(strings.Split(strings.TrimRight(string(args), "\x00"), "\x00"), "config", "c"); v != "" {
			cfg = v
		}
	}
	if env, err := os.ReadFile(filepath.Join(base, "environ")); err == nil {
		for _, kv := range strings.Split(string(env), "\x00") {
			if v, ok := strings.CutPrefix(kv, "MM_CONFIG="); ok && v != "" {
				cfg = v
			}
		}
	}
	if strings.HasPrefix(cfg, "postgres://") || strings.HasPrefix(cfg, "postgresql://") {
		s.ConfigDSN = cfg
		return s, nil
	}
	switch {
	case filepath.IsAbs(cfg):
		s.ConfigFile = cfg
	case strings.Contains(cfg, string(filepath.Separator)):
		s.ConfigFile = filepath.Join(root, cfg)
	default: // a bare name is looked up in ./config/, as the server does
		s.ConfigFile = filepath.Join(root, "config", cfg)
	}
	return s, nil
}

// flagValue finds -name/--name value or -name=value in a command line.
func flagValue(args []string, names ...string) string {
	for i, a := range args {
		for _, n := range names {
			for _, prefix := range []string{"-" + n, "--" + n} {
				if a == prefix && i+1 < len(args) {
					return args[i+1]
				}
				if v, ok := strings.CutPrefix(a, prefix+"="); ok {
					return v
				}
			}
		}
	}
	return ""
}

// Resolve turns a path from the server's config (./data/) into an absolute one.
func (s *Server) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.Root, p)
}

// ConfigDir is the folder of config.json, where SAML certificates and keys are kept; "" when
// config lives in the database.
func (s *Server) ConfigDir() string {
	if s.ConfigFile == "" {
		return ""
	}
	return filepath.Dir(s.ConfigFile)
}

// FileStore says where the server keeps uploaded files.
type FileStore struct {
	Driver string // model.ImageDriverLocal or model.ImageDriverS3
	Dir    string // local: absolute folder
	// S3 settings (driver amazons3), from FileSettings.AmazonS3*.
	Bucket, PathPrefix, Region, Endpoint, AccessKeyID, SecretAccessKey string
	SSL                                                                bool
}

// Files reads the file store from the unsanitized config.
func (s *Server) Files(cfg *model.Config) (*FileStore, error) {
	fs := cfg.FileSettings
	driver := deref(fs.DriverName)
	switch driver {
	case model.ImageDriverLocal, "":
		dir := deref(fs.Directory)
		if dir == "" {
			dir = "./data/"
		}
		return &FileStore{Driver: model.ImageDriverLocal, Dir: s.Resolve(dir)}, nil
	case model.ImageDriverS3:
		return &FileStore{Driver: driver, Bucket: deref(fs.AmazonS3Bucket), PathPrefix: deref(fs.AmazonS3PathPrefix),
			Region: deref(fs.AmazonS3Region), Endpoint: deref(fs.AmazonS3Endpoint), AccessKeyID: deref(fs.AmazonS3AccessKeyId),
			SecretAccessKey: deref(fs.AmazonS3SecretAccessKey), SSL: fs.AmazonS3SSL == nil || *fs.AmazonS3SSL}, nil
	default:
		return nil, errors.New("unsupported FileSettings.DriverName " + strconv.Quote(driver) + ": backups support local and amazons3")
	}
}

// DefaultBackupDir is where backups go when no destination is configured: ./dr-backups in the
// server's folder, beside ./data and never inside it.
func (s *Server) DefaultBackupDir() string { return filepath.Join(s.Root, "dr-backups") }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
