// Command batchrun runs batched Monte Carlo experiments of asynchronous
// distributed optimization and writes tidy CSV.
//
// Usage:
//
//	batchrun run [SPEC.yaml] [--preset NAME] [--set name=value ...] [--replicates N] [--out DIR] [--shard i/n|auto]
//	batchrun plan [SPEC.yaml] [flags]
//	batchrun merge DIR
//	batchrun summarize DIR
//	batchrun plot DIR --x COLUMN --y COLUMN [--by COLUMN,...] --out FILE
//	batchrun spec --example
//	batchrun presets [NAME]
//	batchrun version
//
// Exit codes: 0 success, 1 the run failed (or merge found a gap or a
// duplicate), 2 bad usage or input (nothing is written), 130 interrupted
// (completed cells are kept; the same command resumes). A first SIGINT or
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
