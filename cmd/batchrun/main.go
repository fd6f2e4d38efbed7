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
// written), 130 interrupted (nothing is written).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
