package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/batchrun/batchrun/results"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// usageError marks errors in what the user asked for (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

const mainUsage = `batchrun runs batched Monte Carlo experiments of asynchronous distributed
optimization and writes tidy CSV.

Usage:
  batchrun run [SPEC] [flags]    run a sweep, or resume it (batchrun run --help)
  batchrun plan [SPEC] [flags]   list a sweep's cells, done or pending
  batchrun merge DIR             merge the shards of a run into trace.csv, summary.csv, ...
  batchrun summarize DIR         write aggregate.csv: mean, std, 95% CI per parameter point
  batchrun plot DIR --x X --y Y  plot means with 95% confidence bands (PNG, SVG, PDF)
  batchrun spec --example        print an annotated sweep spec
  batchrun presets [NAME]        list presets and their parameters
  batchrun info                  print the machine: CPU features, kernel variants, GPU
  batchrun bench [flags]         measure the FMA peak, the kernels, paper000, psdda and asynpd throughput
  batchrun version               print the version
  batchrun help [COMMAND]        print this help, or a command's

Exit codes: 0 success, 1 run failure, 2 bad usage or input, 130 interrupted.
`

// Main runs the command line args and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr)
	case "plan":
		err = cmdPlan(args[1:], stdout, stderr)
	case "merge":
		err = cmdMerge(args[1:], stdout, stderr)
	case "summarize":
		err = cmdSummarize(args[1:], stdout, stderr)
	case "plot":
		err = cmdPlot(args[1:], stdout, stderr)
	case "spec":
		err = cmdSpec(args[1:], stdout, stderr)
	case "presets":
		err = cmdPresets(args[1:], stdout, stderr)
	case "info":
		err = cmdInfo(args[1:], stdout, stderr)
	case "bench":
		err = cmdBench(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "batchrun %s %s %s/%s\n", results.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	case "help", "-h", "--help", "-help":
		if len(args) > 1 {
			if _, ok := commands[args[1]]; ok {
				return Main(ctx, []string{args[1], "--help"}, stdout, stderr)
			}
		}
		fmt.Fprint(stdout, mainUsage)
	default:
		fmt.Fprintf(stderr, "batchrun: unknown command %q\n\n%s", args[0], mainUsage)
		return exitUsage
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(stderr, "batchrun: interrupted: %v\n", err)
		return exitInterrupted
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "batchrun: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "batchrun: %v\n", err)
		return exitFailure
	}
}

var commands = map[string]bool{"run": true, "plan": true, "merge": true, "summarize": true, "plot": true, "spec": true, "presets": true, "info": true, "bench": true}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// newFlagSet returns a flag set that prints nothing itself: parseFlags
// prints the help (to stdout, when asked for) and reports errors.
func newFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // flag.Parse's own messages; see parseFlags
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprint(out, usage)
		fmt.Fprintln(out, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, flags and positional arguments in any order
// ("run sweep.yaml --out d" and "run --out d sweep.yaml"; "--" ends the
// flags): -h prints the help to stdout and returns flag.ErrHelp; a bad flag
// is a usage error pointing at the help.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer, allowArgs bool) error {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				continue
			}
			if i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		}
	}
	if err := fs.Parse(append(append(flags, "--"), positional...)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return err
		}
		return usagef("%s: %v (see batchrun %s --help)", fs.Name(), err, fs.Name())
	}
	if !allowArgs && fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q (see batchrun %s --help)", fs.Name(), fs.Arg(0), fs.Name())
	}
	return nil
}
