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

var (
	shared    *Env
	sharedErr error
)

// RunTests is the TestMain of an end-to-end test package: it starts one deployment for the
// package, runs the tests, and always tears it down, also on Ctrl-C. When the deployment
// cannot start, tests that call Require skip with the reason, except under CI (CI set), where
// every service must be available and the run fails instead.
func RunTests(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		shared.Close()
		os.Exit(130)
	}()
	t0 := time.Now()
	shared, sharedErr = Start(ctx, Options{})
	if sharedErr != nil {
		fmt.Fprintf(os.Stderr, "harness: cannot start the test deployment: %v\n", sharedErr)
		if os.Getenv("CI") != "" {
			return 1
		}
	} else {
		fmt.Fprintf(os.Stderr, "harness: deployment ready in %.1fs\n", time.Since(t0).Seconds())
	}
	code := m.Run()
	shared.Close()
	return code
}

// Require returns the package's deployment, or skips the test saying why there is none.
func Require(t testing.TB) *Env {
	t.Helper()
	if shared == nil {
		t.Skipf("end-to-end deployment unavailable: %v", sharedErr)
	}
	return shared
}
