// Command batchrun runs batched Monte Carlo experiments of asynchronous
// distributed optimization and writes tidy CSV.
//
// Usage:
//
//	batchrun run [--preset NAME] [--seeds S | --seed-list LIST] [--set key=value ...] [--out DIR]
//	batchrun presets [NAME]
//	batchrun version
//
// Exit codes: 0 success, 1 the run failed, 2 bad usage or input (nothing is
// written), 130 interrupted (no results are written). A first SIGINT or
// SIGTERM stops the run cleanly; a second one ends the process at once.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal cancels the run, which then stops cleanly; after it
	// the default handling is back, so a second signal ends the process.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
