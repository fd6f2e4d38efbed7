package batch

import (
	"context"
	"errors"
	"sync"
)

// Run calls do(ctx, i) for i = 0..jobs-1 on at most workers goroutines,
// handing out jobs in order of i. The first failing job cancels the context
// of the others and no further job starts; Run then returns the failure of
// the lowest-numbered job that failed for a reason of its own. If the parent
// context is cancelled, Run returns its error once the jobs under way have
// returned (they see the cancelled context and should stop promptly).
func Run(parent context.Context, jobs, workers int, do func(ctx context.Context, job int) error) error {
	workers = max(1, min(workers, jobs))
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	errs := make([]error, jobs)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if ctx.Err() != nil {
					continue // cancelled while i was handed out: it must not start
				}
				if err := do(ctx, i); err != nil {
					errs[i] = err
					cancel()
				}
			}
		}()
	}
feed:
	for i := 0; i < jobs && ctx.Err() == nil; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	if err := parent.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}
