package harness

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// TestMinIO starts the n MinIO servers a test package shares, from its TestMain, and stops
// them on Ctrl-C too. When they cannot start it returns no server and the reason: tests then
// call Unavailable with it (skip locally, fail on CI). stop ends them all; it is never nil.
func TestMinIO(n int) (servers []*MinIO, stop func(), err error) {
	stop = func() {
		for _, m := range servers {
			m.Stop()
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		stop()
		os.Exit(130)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if servers, err = startMinIOs(ctx, n); err != nil {
		stop()
		servers = nil
		return nil, stop, err
	}
	return servers, stop, nil
}

// startMinIOs starts n servers; on error it returns the ones started, for the caller to stop.
func startMinIOs(ctx context.Context, n int) ([]*MinIO, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	bin, err := MinIOBinaries(ctx, root)
	if err != nil {
		return nil, err
	}
	var servers []*MinIO
	for range n {
		m, err := StartMinIO(ctx, bin)
		if err != nil {
			return servers, err
		}
		servers = append(servers, m)
	}
	return servers, nil
}
