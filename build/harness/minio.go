package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Credentials of the root user of every test MinIO server. They are test values, never used
// outside a throwaway server on loopback.
const (
	MinIORootUser     = "dr-test-admin"
	MinIORootPassword = "dr-test-secret-5b0c7e1f"
	MinIORegion       = "us-east-1"
)

// MinIO is a throwaway MinIO server on loopback, run as a separate program (MinIO is AGPL and
// is never imported). Its data lives in Dir, which Stop removes.
type MinIO struct {
	Dir         string // the server's folder: data/, mc/ (mc's configuration), minio.log
	Endpoint    string // http://127.0.0.1:<port>
	AccessKey   string
	SecretKey   string
	Port        int
	ConsolePort int

	bin     string // folder holding minio and mc
	log     string
	mu      sync.Mutex
	proc    *process
	mcOnce  sync.Once
	mcErr   error
	stopped bool
}

// MinIOBinaries returns the folder holding the cached minio and mc executables, building them
// on first use with build/scripts/minio.sh (a few minutes, once per pinned version). root is
// the plugin checkout (RepoRoot).
func MinIOBinaries(ctx context.Context, root string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "build", "scripts", "minio.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build MinIO and mc with build/scripts/minio.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	dir := lines[len(lines)-1]
	for _, exe := range []string{"minio", "mc"} {
		if !fileExists(filepath.Join(dir, exe)) {
			return "", fmt.Errorf("build/scripts/minio.sh printed %q, which holds no %s", dir, exe)
		}
	}
	return dir, nil
}

// StartMinIO starts a MinIO server with an empty data folder on free loopback ports, in its own
// process group (it dies with the test binary), and waits until it is ready. binDir is the
// folder from MinIOBinaries.
func StartMinIO(ctx context.Context, binDir string) (*MinIO, error) {
	dir, err := os.MkdirTemp("", "dr-minio-")
	if err != nil {
		return nil, err
	}
	m := &MinIO{Dir: dir, AccessKey: MinIORootUser, SecretKey: MinIORootPassword, bin: binDir, log: filepath.Join(dir, "minio.log")}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o750); err != nil {
		m.Stop()
		return nil, err
	}
	// A free port can be taken by someone else before MinIO binds it: try a few times.
	for attempt := 0; ; attempt++ {
		if m.Port, err = freePort(); err == nil {
			m.ConsolePort, err = freePort()
		}
		if err != nil {
			m.Stop()
			return nil, err
		}
		m.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", m.Port)
		if err = m.start(ctx); err == nil {
			return m, nil
		}
		if attempt == 2 || ctx.Err() != nil {
			m.Stop()
			return nil, err
		}
	}
}

func (m *MinIO) start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	logf, err := os.OpenFile(m.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(m.bin, "minio"), "server", filepath.Join(m.Dir, "data"),
		"--address", "127.0.0.1:"+strconv.Itoa(m.Port), "--console-address", "127.0.0.1:"+strconv.Itoa(m.ConsolePort), "--quiet")
	cmd.Dir = m.Dir
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.AccessKey, "MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	cmd.Stdout, cmd.Stderr = logf, logf
	if m.proc, err = startProcess("minio", cmd); err != nil {
		return err
	}
	if err := m.waitReady(ctx, m.proc); err != nil {
		m.proc.stop(syscall.SIGKILL, 5*time.Second)
		return err
	}
	return nil
}

func (m *MinIO) waitReady(ctx context.Context, p *process) error {
	return waitHTTPReady(ctx, "minio", m.Endpoint+"/minio/health/ready", p, m.log, 50*time.Millisecond)
}

// Restart stops the server gracefully if it is running (after Kill it is not) and starts it
// again with the same data, ports and credentials.
func (m *MinIO) Restart(ctx context.Context) error {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return errors.New("minio was stopped for good (Stop removed its data); start a new one")
	}
	p := m.proc
	m.proc = nil
	m.mu.Unlock()
	if p != nil {
		p.stop(syscall.SIGTERM, 10*time.Second)
	}
	return m.start(ctx)
}

// Kill ends the server at once (SIGKILL to its process group), as a crash would, keeping its
// data for Restart.
func (m *MinIO) Kill() {
	m.mu.Lock()
	p := m.proc
	m.proc = nil
	m.mu.Unlock()
	if p != nil {
		p.stop(syscall.SIGKILL, 5*time.Second)
	}
}

// Stop ends the server and removes its folder (kept when DR_HARNESS_KEEP is set). Safe to call
// more than once and on nil.
func (m *MinIO) Stop() {
	if m == nil {
		return
	}
	m.mu.Lock()
	p := m.proc
	m.proc = nil
	m.stopped = true
	m.mu.Unlock()
	if p != nil {
		p.stop(syscall.SIGTERM, 10*time.Second)
	}
	if m.Dir != "" && os.Getenv("DR_HARNESS_KEEP") == "" {
		_ = os.RemoveAll(m.Dir)
	}
}

// LogTail returns the end of the server's log, for failure messages.
func (m *MinIO) LogTail(lines int) string { return tail(m.log, lines) }

// S3Client returns an aws-sdk-go-v2 client for the server, as its root user.
func (m *MinIO) S3Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(m.Endpoint),
		UsePathStyle: true,
		Region:       MinIORegion,
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
	})
}

// MakeBucket creates a bucket.
func (m *MinIO) MakeBucket(ctx context.Context, name string) error {
	if _, err := m.S3Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("create bucket %s on %s: %w", name, m.Endpoint, err)
	}
	return nil
}

// MC runs the mc client with its configuration in the server's folder, where the alias
// "local" points at this server (mc alias set local …, done on first use), and returns its
// combined output: m.MC(ctx, "version", "enable", "local/bucket").
func (m *MinIO) MC(ctx context.Context, args ...string) ([]byte, error) {
	m.mcOnce.Do(func() {
		out, err := m.runMC(ctx, "alias", "set", "local", m.Endpoint, m.AccessKey, m.SecretKey, "--api", "S3v4", "--path", "on")
		if err != nil {
			m.mcErr = fmt.Errorf("mc alias set local: %w\n%s", err, out)
		}
	})
	if m.mcErr != nil {
		return nil, m.mcErr
	}
	out, err := m.runMC(ctx, args...)
	if err != nil {
		return out, fmt.Errorf("mc %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return out, nil
}

func (m *MinIO) runMC(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(m.bin, "mc"), args...)
	cmd.Env = append(os.Environ(), "MC_CONFIG_DIR="+filepath.Join(m.Dir, "mc"), "NO_COLOR=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd.CombinedOutput()
}
