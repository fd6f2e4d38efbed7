package batch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// awaitCancel waits for ctx to be cancelled and returns its error, or fails
// after a while so that a missing cancellation fails a test, not hangs it.
func awaitCancel(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Second):
		return errors.New("context not cancelled within 5s")
	}
}

func TestRunEveryJobOnce(t *testing.T) {
	for _, jobs := range []int{1, 2, 7, 100} {
		for _, workers := range []int{0, 1, 2, 8, 1000} {
			t.Run(fmt.Sprintf("jobs=%d/workers=%d", jobs, workers), func(t *testing.T) {
				counts := make([]atomic.Int32, jobs)
				var running, peak atomic.Int32
				err := Run(context.Background(), jobs, workers, func(ctx context.Context, job int) error {
					n := running.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					if ctx.Err() != nil {
						t.Errorf("job %d: context already cancelled: %v", job, ctx.Err())
					}
					counts[job].Add(1)
					time.Sleep(10 * time.Microsecond)
					running.Add(-1)
					return nil
				})
				if err != nil {
					t.Fatalf("Run = %v, want nil", err)
				}
				for i := range counts {
					if c := counts[i].Load(); c != 1 {
						t.Errorf("job %d ran %d times, want 1", i, c)
					}
				}
				if limit := int32(max(1, workers)); peak.Load() > limit {
					t.Errorf("%d jobs ran at once, want at most %d workers", peak.Load(), limit)
				}
			})
		}
	}
}

func TestRunZeroJobs(t *testing.T) {
	for _, workers := range []int{0, 1, 4} {
		called := false
		err := Run(context.Background(), 0, workers, func(context.Context, int) error {
			called = true
			return nil
		})
		if err != nil || called {
			t.Errorf("workers=%d: Run(0 jobs) = %v, called=%v; want nil, false", workers, err, called)
		}
	}
}

// After job fail fails, jobs > fail either were handed out before the
// failure (then they block until they see the cancelled context) or must not
// start at all. Jobs < fail succeed at once.
func TestRunStopsAfterFailure(t *testing.T) {
	const jobs = 2000
	for _, workers := range []int{1, 2, 4, 8} {
		for _, fail := range []int{0, 5, 100} {
			if t.Failed() {
				return // a broken Run can cost seconds per case
			}
			t.Run(fmt.Sprintf("workers=%d/fail=%d", workers, fail), func(t *testing.T) {
				for rep := 0; rep < 20; rep++ {
					var after atomic.Int32
					boom := fmt.Errorf("job %d: boom", fail)
					err := Run(context.Background(), jobs, workers, func(ctx context.Context, job int) error {
						switch {
						case job < fail:
							return nil
						case job == fail:
							return boom
						}
						if after.Add(1) > int32(workers-1) {
							return nil // must not have started; counted, no need to wait
						}
						return awaitCancel(ctx)
					})
					if err != boom {
						t.Fatalf("Run = %v, want %v", err, boom)
					}
					// At most workers-1 other workers can hold a job > fail
					// when job fail fails.
					if n := after.Load(); n > int32(workers-1) {
						t.Fatalf("rep %d: %d jobs after the failing one started, want <= %d (handed out before the failure)", rep, n, workers-1)
					}
				}
			})
		}
	}
}

func TestRunSequentialFailure(t *testing.T) {
	var ran []int
	boom := errors.New("boom")
	err := Run(context.Background(), 10, 1, func(ctx context.Context, job int) error {
		ran = append(ran, job) // one worker: no concurrent access
		if job == 4 {
			return boom
		}
		return nil
	})
	if err != boom {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
	if want := []int{0, 1, 2, 3, 4}; !slices.Equal(ran, want) {
		t.Errorf("jobs run = %v, want %v", ran, want)
	}
}

// Job 7 fails first; job 3, already under way, then fails for a reason of its
// own; the others stop with the context's error. Run must report job 3.
func TestRunLowestRealFailure(t *testing.T) {
	err3 := errors.New("job 3: own failure")
	err7 := errors.New("job 7: own failure")
	for rep := 0; rep < 20; rep++ {
		var started sync.WaitGroup
		started.Add(8)
		err := Run(context.Background(), 8, 8, func(ctx context.Context, job int) error {
			started.Done()
			switch job {
			case 7:
				started.Wait() // every job is under way
				return err7
			case 3:
				if err := awaitCancel(ctx); err != context.Canceled {
					return err
				}
				return err3
			case 5:
				return fmt.Errorf("job 5 stopped: %w", awaitCancel(ctx))
			}
			return awaitCancel(ctx)
		})
		if err != err3 {
			t.Fatalf("rep %d: Run = %v, want %v", rep, err, err3)
		}
	}
}

func TestRunParentCancelled(t *testing.T) {
	for _, workers := range []int{1, 3, 8} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			parent, cancel := context.WithCancel(context.Background())
			defer cancel()
			var started, sawCancel atomic.Int32
			ready := make(chan struct{}, 100)
			done := make(chan error, 1)
			go func() {
				done <- Run(parent, 100, workers, func(ctx context.Context, job int) error {
					started.Add(1)
					ready <- struct{}{}
					err := awaitCancel(ctx)
					if err == context.Canceled {
						sawCancel.Add(1)
					}
					return err
				})
			}()
			for range workers {
				<-ready // every worker holds a job
			}
			cancel()
			select {
			case err := <-done:
				if err != context.Canceled {
					t.Fatalf("Run = %v, want context.Canceled", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("Run did not return within 2s of the parent's cancellation")
			}
			if s, c := started.Load(), sawCancel.Load(); s != int32(workers) || c != s {
				t.Errorf("%d jobs started, %d saw the cancelled context; want %d and %d", s, c, workers, workers)
			}
		})
	}
}

func TestRunParentDoneBeforeStart(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	cancel()
	err := Run(parent, 50, 4, func(ctx context.Context, job int) error {
		if ctx.Err() == nil {
			t.Errorf("job %d saw a live context", job)
		}
		return ctx.Err()
	})
	if err != context.Canceled {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}

	dl, cancel2 := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel2()
	err = Run(dl, 4, 2, func(ctx context.Context, job int) error {
		return awaitCancel(ctx)
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run with expired deadline = %v, want context.DeadlineExceeded", err)
	}
}
