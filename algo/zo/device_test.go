package zo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/kernels"
	"github.com/batchrun/batchrun/kernels/cpu"
	"github.com/batchrun/batchrun/kernels/cuda"
	"github.com/batchrun/batchrun/kernels/cuda/cudatest"
	"github.com/batchrun/batchrun/kernels/cuda/emu"
)

// The device group is tested on the host emulation of its CUDA kernels
// (package cuda/emu): the same CUDA C sources the PTX is compiled from,
// the same orchestration, launches and copies as on a GPU.

// emuDevice returns the emulated device of the zo kernels.
func emuDevice(t testing.TB, opt emu.Options) cuda.Device { return cudatest.Device(t, opt) }

func runDevice(t testing.TB, cfg Config, seeds []uint64, dev cuda.Device) []SeedTrace {
	t.Helper()
	traces, err := RunDevice(context.Background(), &cfg, seeds, cpu.New(), dev, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(traces) != len(seeds) {
		t.Fatalf("%d traces for %d seeds", len(traces), len(seeds))
	}
	for i, tr := range traces {
		if tr.Seed != seeds[i] || len(tr.SumRate) != cfg.T {
			t.Fatalf("trace %d: seed %d with %d iterations, want seed %d with %d", i, tr.Seed, len(tr.SumRate), seeds[i], cfg.T)
		}
	}
	return traces
}

// relative is |a-b| / max(|a|, |b|) (0 when both are 0).
func relative(a, b float64) float64 {
	if a == b {
		return 0
	}
	return math.Abs(a-b) / max(math.Abs(a), math.Abs(b))
}

// compareTraces returns the largest relative difference of the sum-rate
// traces and of the held-out evaluations, failing on a shape mismatch.
func compareTraces(t *testing.T, got, want []SeedTrace) (trace, eval float64) {
	t.Helper()
	for s := range want {
		for i := range want[s].SumRate {
			trace = max(trace, relative(got[s].SumRate[i], want[s].SumRate[i]))
		}
		if len(got[s].Eval) != len(want[s].Eval) {
			t.Fatalf("seed %d: %d evaluations, want %d", want[s].Seed, len(got[s].Eval), len(want[s].Eval))
		}
		for i, e := range want[s].Eval {
			if got[s].Eval[i].Iter != e.Iter {
				t.Fatalf("seed %d: evaluation %d after iteration %d, want %d", want[s].Seed, i, got[s].Eval[i].Iter, e.Iter)
			}
			eval = max(eval, relative(got[s].Eval[i].SumRate, e.SumRate))
		}
	}
	return trace, eval
}

// TestDeviceMatchesCPU runs every zeroth-order mode on both channels for
// 120 iterations (two trace chunks, the second partial) with held-out
// evaluations, on the device and on the CPU's generic and best kernels:
// the random streams are the same, so the sum-rates agree to float
// tolerance (the forward pass and the logarithm differ in rounding only).
func TestDeviceMatchesCPU(t *testing.T) {
	dev := emuDevice(t, emu.Options{})
	seeds := []uint64{3, 11, 12}
	var backends []kernels.Backend
	for _, be := range cpu.All() {
		if be.Variant() == cpu.Generic || be.Variant() == cpu.Best() {
			backends = append(backends, be)
		}
	}
	for _, ch := range []string{"ar1", "rayleigh"} {
		for _, mode := range ZOModes {
			t.Run(ch+"/"+mode, func(t *testing.T) {
				cfg := testConfig(t, "mode="+mode, "channel="+ch, "N=6", "B=3", "K=3", "hidden=8,6", "T=120",
					"buffer=5", "D=3", "E=50", "eval_samples=8", "up_p=0.7", "tx_p=0.8")
				got := runDevice(t, cfg, seeds, dev)
				for _, be := range backends {
					want, err := Run(context.Background(), &cfg, seeds, be, nil)
					if err != nil {
						t.Fatal(err)
					}
					trace, eval := compareTraces(t, got, want)
					t.Logf("vs %s: sum-rate traces within %.1e, evaluations within %.1e", be.Name(), trace, eval)
					if trace > 1e-4 || eval > 1e-4 {
						t.Errorf("vs %s: the device's sum-rates differ by %.2e (trace) and %.2e (evaluations), want <= 1e-4", be.Name(), trace, eval)
					}
				}
			})
		}
	}
}

// TestDeviceUnderSanitizers runs every mode with the kernels built with
// AddressSanitizer and UndefinedBehaviorSanitizer: an access past the end
// of a buffer, which a GPU may or may not fault on, fails the test.
func TestDeviceUnderSanitizers(t *testing.T) {
	if testing.Short() {
		t.Skip("sanitized kernels are slow; skipped with -short")
	}
	dev := emuDevice(t, emu.Options{Sanitize: true})
	for _, ch := range []string{"ar1", "rayleigh"} {
		for _, mode := range ZOModes {
			if ch == "rayleigh" && mode != ModeSync {
				continue // the channel kernel is all that differs
			}
			cfg := testConfig(t, "mode="+mode, "channel="+ch, "N=6", "B=3", "K=3", "hidden=8,6", "T=120",
				"buffer=5", "D=3", "E=50", "eval_samples=8", "up_p=0.7", "tx_p=0.8")
			runDevice(t, cfg, []uint64{3, 11, 12}, dev)
		}
	}
}

// TestDeviceMatchesCPUOnPaper000 is the acceptance check at the
// paper's shape: 100 iterations of every zeroth-order mode of paper000
// (N = 24, B = 10, K = 5, two hidden layers of 30) agree with the CPU to
// 1e-4 relative, and so do their held-out evaluations.
func TestDeviceMatchesCPUOnPaper000(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dev := emuDevice(t, emu.Options{})
	seeds := []uint64{1, 2}
	for _, mode := range ZOModes {
		cfg := testConfig(t, "mode="+mode, "T=100", "E=50") // held-out evaluations at 0, 50, 100
		got := runDevice(t, cfg, seeds, dev)
		want := runOrFatal(t, cfg, seeds)
		trace, eval := compareTraces(t, got, want)
		t.Logf("%s: sum-rate traces within %.1e, evaluations within %.1e", mode, trace, eval)
		if trace > 1e-4 || eval > 1e-4 {
			t.Errorf("%s: the device's sum-rates differ by %.2e (trace) and %.2e (evaluations), want <= 1e-4", mode, trace, eval)
		}
	}
}

// TestDeviceFullRunsOnPaper000 is the second acceptance check:
// full paper000 runs (T = 2000) of every zeroth-order mode on the device and
// the CPU have late-window mean sum-rates within 0.5% per seed (the traces
// drift apart by float rounding over 2000 iterations, the statistics do
// not).
func TestDeviceFullRunsOnPaper000(t *testing.T) {
	if testing.Short() {
		t.Skip("full 2000-iteration runs; skipped with -short")
	}
	dev := emuDevice(t, emu.Options{})
	seeds := []uint64{1, 2}
	for _, mode := range ZOModes {
		cfg := testConfig(t, "mode="+mode)
		got := runDevice(t, cfg, seeds, dev)
		want := runOrFatal(t, cfg, seeds)
		lf := cfg.LateFrom() - 1
		var worst float64
		for s := range seeds {
			worst = max(worst, relative(mean(got[s].SumRate[lf:]), mean(want[s].SumRate[lf:])))
		}
		t.Logf("%s: late-window means within %.1e", mode, worst)
		if worst > 0.005 {
			t.Errorf("%s: late-window means differ by %.2e, want <= 0.5%%", mode, worst)
		}
	}
}

// TestDeviceBatchComposition: a seed's numbers on the device do not depend
// on the other seeds of its batch.
func TestDeviceBatchComposition(t *testing.T) {
	dev := emuDevice(t, emu.Options{})
	cfg := testConfig(t, "N=5", "B=2", "K=2", "hidden=4", "T=30", "buffer=6", "E=10", "eval_samples=4")
	all := runDevice(t, cfg, []uint64{7, 8, 9}, dev)
	for i, seed := range []uint64{9, 7} {
		alone := runDevice(t, cfg, []uint64{seed}, dev)[0]
		together := all[map[int]int{0: 2, 1: 0}[i]]
		if fmt.Sprint(alone) != fmt.Sprint(together) {
			t.Errorf("seed %d alone differs from seed %d in a batch of 3", seed, seed)
		}
	}
}

// TestDeviceSplitsWhenOutOfMemory: a device with too little memory for the
// batch runs it in parts, with the same results.
func TestDeviceSplitsWhenOutOfMemory(t *testing.T) {
	cfg := testConfig(t, "N=5", "B=2", "K=2", "hidden=16", "T=20", "E=0")
	seeds := []uint64{1, 2, 3, 4, 5}
	want := runDevice(t, cfg, seeds, emuDevice(t, emu.Options{}))
	// Room for about two seeds: the group of five splits twice.
	small := emuDevice(t, emu.Options{MemoryLimit: 5 * cfg.GroupBytes(cfg.Mode, 1) / 2})
	if _, started, err := runDeviceOnce(context.Background(), &cfg, seeds, cpu.New(), small, nil); !errors.Is(err, cuda.ErrOutOfMemory) || started {
		t.Fatalf("five seeds on the small device: %v (started %v), want an out-of-memory error before the start", err, started)
	}
	got := runDevice(t, cfg, seeds, small)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("the split batch gives other numbers")
	}
}

// TestDeviceErrors: a diverging run fails with the CPU's message, and a
// network too wide for the forward kernels is refused before anything
// runs.
func TestDeviceErrors(t *testing.T) {
	dev := emuDevice(t, emu.Options{})
	cfg := testConfig(t, "mode=sync", "T=40", "alpha=1e30") // as TestDivergedRunFails
	_, err := RunDevice(context.Background(), &cfg, []uint64{1}, cpu.New(), dev, nil)
	if err == nil || !strings.Contains(err.Error(), "diverged") || !strings.Contains(err.Error(), "seed 1, iteration") {
		t.Errorf("alpha = 1e30: %v, want the divergence error", err)
	}
	cfg = testConfig(t, "N=4", "B=2", "K=2", "hidden=300", "T=5", "E=0")
	_, err = RunDevice(context.Background(), &cfg, []uint64{1}, cpu.New(), dev, nil)
	if err == nil || !strings.Contains(err.Error(), "--backend cpu") {
		t.Errorf("hidden=300: %v, want an error that points to --backend cpu", err)
	}
	cfg = testConfig(t, "mode=wmmse", "N=4", "T=5")
	if _, err = RunDevice(context.Background(), &cfg, []uint64{1}, cpu.New(), dev, nil); err == nil {
		t.Error("wmmse on the device: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cfg = testConfig(t, "N=4", "B=2", "K=2", "hidden=4", "T=5", "E=0")
	if _, err = RunDevice(ctx, &cfg, []uint64{1}, cpu.New(), dev, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestFamilyOnDevice: with a GPU, the family runs the zeroth-order modes'
// replicates of a point as one group on it, the other modes on the CPU,
// and its rows agree with the CPU family's to float tolerance.
func TestFamilyOnDevice(t *testing.T) {
	spec, err := batch.ParseSpec("dev.yaml", []byte("experiment: zo\nset: {N: 5, B: 2, K: 2, hidden: '6', T: 40, E: 20, eval_samples: 4}\ngrid:\n  mode: [sync, full-power]\nreplicates: 5\n"))
	if err != nil {
		t.Fatal(err)
	}
	onCPU := Family{Backend: cpu.New()}
	onGPU := Family{Backend: onCPU.Backend, GPU: emuDevice(t, emu.Options{})}
	if name := onGPU.BackendName(); !strings.Contains(name, emu.Name) || !strings.Contains(name, onCPU.Backend.Name()) {
		t.Errorf("BackendName %q does not name both backends", name)
	}
	pl, err := batch.NewPlan(spec, batch.Families{"zo": onGPU})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range pl.Groups(pl.Cells, 2, 0) {
		mode := g.Cells[0].Values.String("mode")
		// sync's five replicates are one GPU batch; full-power's groups
		// are the engine's (10 cells on 2 workers: groups of 2).
		if want := map[string]int{"sync": 5, "full-power": 2}[mode]; len(g.Cells) > want || mode == ModeSync && len(g.Cells) != want {
			t.Errorf("a group of %d %s cells, want %d", len(g.Cells), mode, want)
		}
		if mode == ModeSync && onGPU.GroupBytes(g.Cells[0].Values, 5) >= onCPU.GroupBytes(g.Cells[0].Values, 5) {
			t.Errorf("host memory of a GPU group is not below the CPU group's")
		}
		got, err := onGPU.RunGroup(context.Background(), g.Cells, func(int64) {})
		if err != nil {
			t.Fatal(err)
		}
		want, err := onCPU.RunGroup(context.Background(), g.Cells, func(int64) {})
		if err != nil {
			t.Fatal(err)
		}
		for c := range want {
			for tab := range want[c] {
				if len(got[c][tab]) != len(want[c][tab]) {
					t.Fatalf("%s cell %d table %d: %d rows, want %d", mode, c, tab, len(got[c][tab]), len(want[c][tab]))
				}
				for r, row := range want[c][tab] {
					g := got[c][tab][r]
					if g.Step != row.Step || len(g.Metrics) != len(row.Metrics) {
						t.Fatalf("%s cell %d table %d row %d: step %d with %d metrics, want %d with %d", mode, c, tab, r, g.Step, len(g.Metrics), row.Step, len(row.Metrics))
					}
					for m, v := range row.Metrics {
						if d := relative(g.Metrics[m], v); d > 1e-4 && !(math.IsNaN(v) && math.IsNaN(g.Metrics[m])) {
							t.Errorf("%s cell %d table %d row %d metric %d: %v on the device, %v on the CPU", mode, c, tab, r, m, g.Metrics[m], v)
						}
					}
				}
			}
		}
	}
}
