// Command demo starts a throwaway PostgreSQL and Mattermost on loopback with the plugin
// installed, prints how to reach them, runs the plugin's main job as the admin, and stays up
// until Ctrl-C (or returns at once with DEMO_EXIT=1). `make demo` runs it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

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

// mainJob runs what the plugin is for, as the admin would from chat.
func mainJob(ctx context.Context, env *harness.Env) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	fmt.Println("$ /dr help")
	resp, err := env.Command(ctx, env.Admin, "", "/dr help")
	if err != nil {
		return err
	}
	fmt.Println(resp.Text)
	return nil
}
