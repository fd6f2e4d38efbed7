package batch

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/batchrun/batchrun/results"
)

// Timing is the table the engine adds to every family's: per cell, the size
// of the batched group it ran in and its share of the group's wall time.
// Unlike the family's tables it differs from run to run.
var Timing = results.TableDef{Name: "timing", Metrics: []string{"group_cells", "wall_seconds"}}

// Tables returns the tables a plan's runs write: the family's, then Timing.
func (pl *Plan) Tables() []results.TableDef {
	return append(pl.Family.Tables(), Timing)
}

// MergePlan returns what a merge of the plan's run directory expects: its
// keys, columns and tables, and the added parameters to fill into parts
// written before they existed.
func (pl *Plan) MergePlan() results.MergePlan {
	return results.MergePlan{Keys: pl.Keys(), Header: pl.Columns, Tables: pl.Tables(), Added: pl.Added}
}

// ExecOptions control how cells are executed; they never change results.
type ExecOptions struct {
	Workers    int           // concurrent groups (default 1)
	GroupSize  int           // most cells per batched group (0: spread the cells over the workers, at most 32)
	FlushEvery time.Duration // commit completed cells at least this often (default 2 s)
	Progress   func(ProgressState)
}

// ProgressState is a snapshot of a run's progress.
type ProgressState struct {
	CellsDone, CellsTotal int   // of this run (skipped cells excluded)
	WorkDone, WorkTotal   int64 // in the family's work units
	Elapsed               time.Duration
	Final                 bool
}

// ExecStats reports what Execute did.
type ExecStats struct {
	Cells  int // cells completed and committed
	Groups int
	Wall   time.Duration
}

// Group is a batch of cells of one parameter point that runs as one
// batched computation.
type Group struct{ Cells []*Cell }

// Groups splits cells into batched groups: cells of the same parameter
// point, in plan order, at most size per group (size <= 0: at most 32, and
// small enough that every worker gets about four groups, so that no core
// idles long at the end of a run). Groups are ordered by their first cell.
func Groups(cells []*Cell, workers, size int) []Group { return groups(cells, workers, size, nil) }

// GroupSizer is implemented by a family whose best group size depends on
// the parameter point: MaxGroup returns the most cells per group for v, or
// 0 for the engine's choice. (zo asks for large groups of the modes it runs
// on a GPU, where one batch should hold as many seeds as fit.)
type GroupSizer interface {
	MaxGroup(v Values) int
}

// Groups splits cells into batched groups as Groups does, except that
// without an explicit size a family that is a GroupSizer sets the size of
// the points it has an opinion on.
func (pl *Plan) Groups(cells []*Cell, workers, size int) []Group {
	sizer, _ := pl.Family.(GroupSizer)
	if size > 0 {
		sizer = nil
	}
	return groups(cells, workers, size, sizer)
}

func groups(cells []*Cell, workers, size int, sizer GroupSizer) []Group {
	if size <= 0 {
		per := 4 * max(workers, 1)
		size = max(1, min(32, (len(cells)+per-1)/per))
	}
	var out []Group
	open := map[int]int{}  // point -> index in out of its open group
	sizes := map[int]int{} // point -> its group size
	for _, c := range cells {
		sz, ok := sizes[c.Point]
		if !ok {
			sz = size
			if sizer != nil {
				if m := sizer.MaxGroup(c.Values); m > 0 {
					sz = m
				}
			}
			sizes[c.Point] = sz
		}
		gi, ok := open[c.Point]
		if !ok || len(out[gi].Cells) >= sz {
			out = append(out, Group{})
			gi = len(out) - 1
			open[c.Point] = gi
		}
		out[gi].Cells = append(out[gi].Cells, c)
	}
	return out
}

// MemoryError reports a run whose estimated memory exceeds what is available.
type MemoryError struct{ Need, Have int64 }

func (e *MemoryError) Error() string {
	return fmt.Sprintf("the run needs about %.1f GiB of memory at once, but %.1f GiB are available; use fewer --workers or a smaller --group", float64(e.Need)/(1<<30), float64(e.Have)/(1<<30))
}

// CheckMemory estimates the memory of running groups on workers at once
// and compares it with available (bytes; <= 0: unknown, no check).
func (pl *Plan) CheckMemory(groups []Group, workers int, available int64) error {
	if available <= 0 || len(groups) == 0 {
		return nil
	}
	// The largest `workers` groups may run at once.
	var sizes []int64
	for _, g := range groups {
		sizes = append(sizes, pl.Family.GroupBytes(g.Cells[0].Values, len(g.Cells)))
	}
	need := int64(0)
	for range min(workers, len(sizes)) {
		bi := 0
		for i, s := range sizes {
			if s > sizes[bi] {
				bi = i
			}
		}
		need += sizes[bi]
		sizes[bi] = -1
	}
	if need > available {
		return &MemoryError{Need: need, Have: available}
	}
	return nil
}

// Execute runs cells of the plan in batched groups on opt.Workers
// goroutines and commits their rows to store, at least every
// opt.FlushEvery and at the end. On cancellation or a failure no new group
// starts; the groups completed so far are committed before Execute returns
// the error, so a resumed run only redoes the groups that were under way.
func (pl *Plan) Execute(ctx context.Context, cells []*Cell, store *results.Store, opt ExecOptions) (ExecStats, error) {
	start := time.Now()
	workers := max(1, opt.Workers)
	flushEvery := opt.FlushEvery
	if flushEvery <= 0 {
		flushEvery = 2 * time.Second
	}
	groups := pl.Groups(cells, workers, opt.GroupSize)
	var workTotal int64
	for _, c := range cells {
		workTotal += pl.Family.Work(c.Values)
	}
	// A failed commit stops the run: results that cannot be saved are not
	// worth computing.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var workDone atomic.Int64
	type finished struct {
		out []results.CellOutput
	}
	done := make(chan finished, len(groups))
	runErr := make(chan error, 1)
	go func() {
		runErr <- Run(ctx, len(groups), workers, func(ctx context.Context, j int) error {
			g := groups[j]
			t0 := time.Now()
			rows, err := pl.Family.RunGroup(ctx, g.Cells, func(w int64) { workDone.Add(w) })
			if err != nil {
				return err
			}
			if len(rows) != len(g.Cells) {
				return fmt.Errorf("%s: group returned %d results for %d cells", pl.Family.Name(), len(rows), len(g.Cells))
			}
			share := time.Since(t0).Seconds() / float64(len(g.Cells))
			out := make([]results.CellOutput, len(g.Cells))
			for i, c := range g.Cells {
				timing := []results.Row{{Metrics: []float64{float64(len(g.Cells)), share}}}
				out[i] = results.CellOutput{Index: c.Index, Key: c.Key, Prefix: pl.Prefix(c), Tables: append(rows[i], timing)}
			}
			done <- finished{out}
			return nil
		})
	}()
	stats := ExecStats{Groups: len(groups)}
	var pending []results.CellOutput
	lastFlush := time.Now()
	var commitErr error
	commit := func() {
		if len(pending) == 0 || commitErr != nil {
			return
		}
		if err := store.Commit(pending); err != nil {
			commitErr = fmt.Errorf("commit results: %w", err)
			cancel()
			return
		}
		stats.Cells += len(pending)
		pending = pending[:0]
		lastFlush = time.Now()
	}
	report := func(final bool) {
		if opt.Progress != nil {
			opt.Progress(ProgressState{CellsDone: stats.Cells + len(pending), CellsTotal: len(cells),
				WorkDone: workDone.Load(), WorkTotal: workTotal, Elapsed: time.Since(start), Final: final})
		}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var err error
loop:
	for {
		select {
		case f := <-done:
			pending = append(pending, f.out...)
			if time.Since(lastFlush) >= flushEvery {
				commit()
			}
			report(false)
		case <-tick.C:
			if len(pending) > 0 && time.Since(lastFlush) >= flushEvery {
				commit()
			}
			report(false)
		case err = <-runErr:
			break loop
		}
	}
	// Run has returned: every finished group is in the channel.
	for len(done) > 0 {
		pending = append(pending, (<-done).out...)
	}
	commit()
	stats.Wall = time.Since(start)
	report(true)
	if commitErr != nil {
		if errors.Is(err, context.Canceled) {
			err = nil // the cancellation was ours
		}
		return stats, errors.Join(commitErr, err)
	}
	return stats, err
}
