// Command deploy uploads a plugin bundle to a Mattermost server and enables it, as the
// Mattermost plugin starter template's `make deploy` does.
//
//	MM_SERVICESETTINGS_SITEURL=https://chat.example.com MM_ADMIN_TOKEN=... go run ./build/cmd/deploy dist/disaster-recovery-0.1.0.tar.gz
//
// Credentials: MM_ADMIN_TOKEN (a personal access token of a system admin), or
// MM_ADMIN_USERNAME and MM_ADMIN_PASSWORD.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

const pluginID = "disaster-recovery"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "deploy:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) != 2 {
		return errors.New("usage: deploy <bundle.tar.gz>")
	}
	site := os.Getenv("MM_SERVICESETTINGS_SITEURL")
	if site == "" {
		return errors.New("set MM_SERVICESETTINGS_SITEURL to the server's URL, e.g. http://localhost:8065")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := model.NewAPIv4Client(site)
	switch {
	case os.Getenv("MM_ADMIN_TOKEN") != "":
		c.SetToken(os.Getenv("MM_ADMIN_TOKEN"))
	case os.Getenv("MM_ADMIN_USERNAME") != "":
		if _, _, err := c.Login(ctx, os.Getenv("MM_ADMIN_USERNAME"), os.Getenv("MM_ADMIN_PASSWORD")); err != nil {
			return fmt.Errorf("log in as %s: %w", os.Getenv("MM_ADMIN_USERNAME"), err)
		}
	default:
		return errors.New("set MM_ADMIN_TOKEN, or MM_ADMIN_USERNAME and MM_ADMIN_PASSWORD, of a system admin")
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Printf("uploading %s to %s\n", os.Args[1], site)
	if _, _, err := c.UploadPluginForced(ctx, f); err != nil {
		return fmt.Errorf("upload: %w (the server needs PluginSettings.EnableUploads = true)", err)
	}
	if _, err := c.EnablePlugin(ctx, pluginID); err != nil {
		return fmt.Errorf("enable: %w", err)
	}
	fmt.Println("enabled", pluginID)
	return nil
}
