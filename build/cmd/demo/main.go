// Command demo starts a throwaway PostgreSQL and Mattermost on loopback with the plugin
// installed, prints how to reach them, takes a backup as the admin and checks it, and stays up
// until Ctrl-C (or returns at once with DEMO_EXIT=1). `make demo` runs it.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	env, err := harness.Start(ctx, harness.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer env.Close()

	fmt.Printf("\nMattermost:   %s (REST API only: this server has no web client)\n", env.MM.URL)
	fmt.Printf("Admin:        %s / %s\n", env.Admin.Username, env.Admin.Password)
	fmt.Printf("Non-admin:    %s / %s\n", env.Member.Username, env.Member.Password)
	fmt.Printf("PostgreSQL:   %s\n", env.PG.URL("mattermost"))
	fmt.Printf("Server files: %s\n\n", env.MM.Dir)

	if err := mainJob(ctx, env); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	if os.Getenv("DEMO_EXIT") == "1" {
		return 0
	}
	fmt.Println("\nRunning. Press Ctrl-C to stop and remove everything.")
	<-ctx.Done()
	return 0
}

// mainJob runs what the plugin is for, as the admin would from chat: a backup of the
// database, the config and the files, then a check of what it wrote.
func mainJob(ctx context.Context, env *harness.Env) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if _, _, err := env.Admin.Client.UploadFile(ctx, []byte("A file for the demo backup.\n"), env.OpsChannel.Id, "demo.txt"); err != nil {
		return fmt.Errorf("upload a demo file: %w", err)
	}
	since := model.GetMillis()
	fmt.Println("$ /dr backup now")
	resp, err := env.Command(ctx, env.Admin, "", "/dr backup now")
	if err != nil {
		return err
	}
	fmt.Println(resp.Text)
	post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "Backup `", 5*time.Minute)
	if err != nil {
		return err
	}
	fmt.Printf("\n@dr-bot in ~%s:\n%s\n", harness.OpsChannelName, post.Message)
	m := regexp.MustCompile("Backup `([^`]+)` completed").FindStringSubmatch(post.Message)
	if m == nil {
		return errors.New("the backup did not complete")
	}

	// Check the manifest the plugin wrote last, and every object it lists, as an admin could
	// with nothing but the files (the manifest is plain JSON).
	dir := filepath.Join(env.MM.Dir, "dr-backups", "backups", m[1])
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return fmt.Errorf("read the manifest: %w", err)
	}
	var man struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Objects []struct {
			Key    string `json:"key"`
			Size   int64  `json:"size"`
			SHA256 string `json:"sha256"`
		} `json:"objects"`
		TableRowCounts map[string]int64      `json:"table_row_counts"`
		Files          struct{ Count int64 } `json:"files"`
	}
	if err := json.Unmarshal(raw, &man); err != nil {
		return fmt.Errorf("read the manifest: %w", err)
	}
	root := filepath.Join(env.MM.Dir, "dr-backups")
	for _, o := range man.Objects {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(o.Key)))
		if err != nil {
			return fmt.Errorf("object %s: %w", o.Key, err)
		}
		if sum := sha256.Sum256(b); int64(len(b)) != o.Size || hex.EncodeToString(sum[:]) != o.SHA256 {
			return fmt.Errorf("object %s does not match its manifest entry", o.Key)
		}
	}
	fmt.Printf("\nManifest OK (%s): backup %s, %d objects whose sizes and SHA-256 match, %d tables counted, %d files indexed.\n",
		man.Status, man.ID, len(man.Objects), len(man.TableRowCounts), man.Files.Count)
	dir = filepath.Join(root, "backups", man.ID)
	fmt.Printf("It is in %s\n", dir)

	// The plugin's own verification: every object re-read, the dump's catalogue, the referenced
	// files, and a restore drill into a scratch database with every table's row count compared.
	since = model.GetMillis()
	fmt.Println("\n$ /dr backup verify latest --drill")
	if resp, err = env.Command(ctx, env.Admin, "", "/dr backup verify latest --drill"); err != nil {
		return err
	}
	fmt.Println(resp.Text)
	if post, err = env.WaitBotPost(ctx, env.OpsChannel.Id, since, "erif", 5*time.Minute); err != nil {
		return err
	}
	fmt.Printf("\n@dr-bot in ~%s:\n%s\n", harness.OpsChannelName, post.Message)
	if !strings.Contains(post.Message, "verified in") {
		return errors.New("the backup did not verify")
	}
	fmt.Println("\n$ /dr status")
	if resp, err = env.Command(ctx, env.Admin, "", "/dr status --fresh"); err != nil {
		return err
	}
	fmt.Println(resp.Text)
	return nil
}
