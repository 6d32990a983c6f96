package pgdump

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrPgDumpNotFound is wrapped by the errors of FindPgDump and Dump when no
// pg_dump can be found.
var ErrPgDumpNotFound = errors.New("pg_dump not found")

// ErrPgDumpTooOld is wrapped by the errors of CheckCompatible and Dump when
// pg_dump is older than the database server.
var ErrPgDumpTooOld = errors.New("pg_dump is older than the PostgreSQL server")

// pgDumpGlob is where Debian and Ubuntu install each PostgreSQL major
// version's client programs. A variable for the tests.
var pgDumpGlob = "/usr/lib/postgresql/*/bin/pg_dump"

// settingHint tells the administrator how to use another pg_dump.
const settingHint = `the plugin setting "pg_dump to use" (BackupPgDumpPath)`

const pgdgHint = "https://wiki.postgresql.org/wiki/Apt"

// containerMarks are files a container runtime leaves in the root of its containers (Docker,
// Podman); Kubernetes sets KUBERNETES_SERVICE_HOST in every pod. Variables for the tests.
var (
	containerMarks = []string{"/.dockerenv", "/run/.containerenv"}
	getenv         = os.Getenv
)

// InContainer says whether this process looks like it runs in a container, where pg_dump is
// missing for a different reason (the image does not ship it) and apt-get is not the fix.
func InContainer() bool {
	if getenv("KUBERNETES_SERVICE_HOST") != "" {
		return true
	}
	for _, m := range containerMarks {
		if _, err := os.Stat(m); err == nil {
			return true
		}
	}
	return false
}

// installHint tells the administrator which package to install for a server
// of major version serverMajor (0: unknown).
func installHint(serverMajor int) string {
	n := "N"
	if serverMajor > 0 {
		n = strconv.Itoa(serverMajor)
	}
	if InContainer() {
		return containerHint(n)
	}
	if serverMajor <= 0 {
		return "install the PostgreSQL client programs of your database server's major version N: " +
			"on Debian/Ubuntu `apt-get install postgresql-client-N` (if apt does not know that version, " +
			"add the PostgreSQL project's PGDG apt repository first, " + pgdgHint + "), or set " +
			settingHint + " to the full path of a pg_dump of that version or newer"
	}
	return fmt.Sprintf("install postgresql-client-%[1]d: on Debian/Ubuntu `apt-get install postgresql-client-%[1]d` "+
		"(if apt does not know that version, add the PostgreSQL project's PGDG apt repository first, %[2]s), "+
		"or set %[3]s to the full path of a pg_dump %[1]d or newer", serverMajor, pgdgHint, settingHint)
}

// containerHint is the fix where the Mattermost image has no PostgreSQL client (the official
// images do not): installing into a running container is lost at its next restart.
func containerHint(n string) string {
	return fmt.Sprintf("Mattermost runs in a container whose image has no pg_dump %[1]s: add postgresql-client-%[1]s to the image "+
		"(a layer on your Mattermost image: `USER root`, `RUN apt-get update && apt-get install -y postgresql-client-%[1]s`, `USER mattermost`; "+
		"with the PGDG repository if the image's apt lacks that version, %[2]s), and deploy that image with Docker or in the Kubernetes "+
		"Deployment or Mattermost Operator; or mount a pg_dump %[1]s or newer from an init container into a shared volume. "+
		"If pg_dump is not in PATH there, set %[3]s to its full path. Installing into the running container is lost at its next restart",
		n, pgdgHint, settingHint)
}

// notFoundError says what was looked at; Dump fills in the server's major
// version so the message names the exact package.
type notFoundError struct {
	looked      string
	serverMajor int
}

func (e *notFoundError) Error() string {
	return fmt.Sprintf("pg_dump not found (%s): %s", e.looked, installHint(e.serverMajor))
}

func (e *notFoundError) Is(target error) bool { return target == ErrPgDumpNotFound }

// FindPgDump finds the pg_dump to run and its major version. A non-empty
// explicit is used as is (a program path, a folder holding pg_dump, or a
// program name looked up in PATH). Otherwise the newest pg_dump among PATH
// and /usr/lib/postgresql/*/bin wins: a newer pg_dump can dump older servers,
// never the reverse.
func FindPgDump(explicit string) (path string, major int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path, major, _, err = findPgDump(ctx, explicit)
	return path, major, err
}

func findPgDump(ctx context.Context, explicit string) (path string, major int, version string, err error) {
	if explicit != "" {
		path = explicit
		if !strings.ContainsRune(path, os.PathSeparator) {
			lp, err := exec.LookPath(path)
			if err != nil {
				return "", 0, "", &notFoundError{looked: fmt.Sprintf("PgDumpPath %q is not a program in PATH", explicit)}
			}
			path = lp
		}
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			path = filepath.Join(path, "pg_dump")
		}
		if _, err := os.Stat(path); err != nil {
			return "", 0, "", &notFoundError{looked: fmt.Sprintf("PgDumpPath %q: %v", explicit, err)}
		}
		version, major, err = pgDumpVersion(ctx, path)
		if err != nil {
			return "", 0, "", fmt.Errorf("the PgDumpPath %q is not a working pg_dump: %w; %s", explicit, err, installHint(0))
		}
		return path, major, version, nil
	}

	// Debian's versioned folders first, newest first: on a tie they win over
	// PATH's /usr/bin/pg_dump, a wrapper script whose choice of version
	// depends on its environment.
	var candidates []string
	matches, _ := filepath.Glob(pgDumpGlob)
	sort.SliceStable(matches, func(i, j int) bool { return dirMajor(matches[i]) > dirMajor(matches[j]) })
	candidates = append(candidates, matches...)
	if lp, err := exec.LookPath("pg_dump"); err == nil {
		candidates = append(candidates, lp)
	}
	var failures []string
	for _, c := range candidates {
		v, m, err := pgDumpVersion(ctx, c)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", c, err))
			continue
		}
		if m > major {
			path, major, version = c, m, v
		}
	}
	if path == "" {
		looked := "looked in PATH and " + filepath.Dir(pgDumpGlob)
		if len(failures) > 0 {
			looked += "; not working: " + strings.Join(failures, "; ")
		}
		return "", 0, "", &notFoundError{looked: looked}
	}
	return path, major, version, nil
}

// dirMajor is N in /usr/lib/postgresql/N/bin/pg_dump.
func dirMajor(p string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
	return n
}

var pgDumpVersionRE = regexp.MustCompile(`\(PostgreSQL\)\s+((\d+)\S*)`)

// pgDumpVersion runs "pg_dump --version" and parses
// "pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)" into "15.14" and 15.
func pgDumpVersion(ctx context.Context, path string) (version string, major int, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			return "", 0, fmt.Errorf("%w: %s", err, strings.TrimSpace(lastLine(string(ee.Stderr))))
		}
		return "", 0, err
	}
	return parsePgDumpVersion(string(out))
}

func parsePgDumpVersion(out string) (version string, major int, err error) {
	m := pgDumpVersionRE.FindStringSubmatch(out)
	if m == nil {
		return "", 0, fmt.Errorf("unexpected --version output %q", strings.TrimSpace(lastLine(out)))
	}
	major, _ = strconv.Atoi(m[2])
	return m[1], major, nil
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// CheckCompatible returns an error naming the package to install when a
// pg_dump of major version pgDumpMajor cannot dump a server of major version
// serverMajor: pg_dump refuses servers newer than itself.
func CheckCompatible(pgDumpMajor, serverMajor int) error {
	if pgDumpMajor <= 0 || serverMajor <= 0 {
		return fmt.Errorf("cannot compare pg_dump version %d with PostgreSQL server version %d", pgDumpMajor, serverMajor)
	}
	if pgDumpMajor < serverMajor {
		return fmt.Errorf("%w: pg_dump %d cannot dump a PostgreSQL %d server (pg_dump must be of the server's major version or newer); %s",
			ErrPgDumpTooOld, pgDumpMajor, serverMajor, installHint(serverMajor))
	}
	return nil
}

// FindPgRestore finds the pg_restore that goes with the pg_dump FindPgDump would choose: the
// one in the same folder (pg_restore reads archives of its own major version and older).
// explicit is a pg_restore path, a folder, or a program name in PATH.
func FindPgRestore(explicit string) (string, error) {
	if explicit != "" {
		p := explicit
		if !strings.ContainsRune(p, os.PathSeparator) {
			lp, err := exec.LookPath(p)
			if err != nil {
				return "", fmt.Errorf("pg_restore %q is not a program in PATH: %s", explicit, strings.ReplaceAll(installHint(0), "pg_dump", "pg_restore"))
			}
			p = lp
		}
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			p = filepath.Join(p, "pg_restore")
		}
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("pg_restore %q: %w", explicit, err)
		}
		return p, nil
	}
	dump, _, err := FindPgDump("")
	if err != nil {
		return "", fmt.Errorf("pg_restore not found: %w", err)
	}
	p := filepath.Join(filepath.Dir(dump), "pg_restore")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("pg_restore not found beside %s: %s", dump, strings.ReplaceAll(installHint(0), "pg_dump", "pg_restore"))
	}
	return p, nil
}
