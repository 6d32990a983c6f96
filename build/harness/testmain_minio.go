package harness

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// RunWithMinIO is the TestMain of a package whose tests share one MinIO server with an empty
// bucket (TestMinIOBucket): got receives the server, or nil and why it could not start (tests
// then call Unavailable); then the tests run and the server stops. It returns the exit code
// for os.Exit.
func RunWithMinIO(m *testing.M, label, bucket string, got func(*MinIO, error)) int {
	server, stop, err := TestMinIOBucket(label, bucket)
	defer stop()
	got(server, err)
	return m.Run()
}

// TestMinIOBucket starts one MinIO server from a TestMain, as TestMinIO does, with an empty
// bucket on it. label names the test package in what it prints: where the server runs, or why
// it is unavailable (the error, nil server: tests then call Unavailable). stop is never nil.
func TestMinIOBucket(label, bucket string) (server *MinIO, stop func(), err error) {
	t0 := time.Now()
	servers, stop, err := TestMinIO(1)
	if err == nil {
		server = servers[0]
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = server.MakeBucket(ctx, bucket)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: MinIO unavailable: %v\n", label, err)
		stop()
		return nil, stop, err
	}
	fmt.Fprintf(os.Stderr, "%s: MinIO on %s (%.1fs)\n", label, server.Endpoint, time.Since(t0).Seconds())
	return server, stop, nil
}

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
