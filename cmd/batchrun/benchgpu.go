package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/batchrun/batchrun/algo/zo"
	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/kernels"
	"github.com/batchrun/batchrun/kernels/cuda"
)

// fp32Peak returns a GPU's float32 FMA peak in FLOP/s: SMs x FP32 lanes
// per SM x 2 x clock (64 lanes per SM before sm_86, 128 from then on).
func fp32Peak(in cuda.GPUInfo) float64 {
	lanes := 128
	if in.Major < 8 || (in.Major == 8 && in.Minor == 0) {
		lanes = 64
	}
	return float64(in.SMs) * float64(lanes) * 2 * float64(in.ClockRate) * 1e3
}

// gpuBench is bench's section 7: the zo kernels on the GPU --device names.
// cpuRate is section 3's seed-runs per second of the selected CPU kernels
// on this machine's cores (0: unknown).
func gpuBench(ctx context.Context, stdout io.Writer, cpuBE kernels.Backend, device int, quick bool, workers int, cpuRate float64) error {
	gpu, err := openGPU(device)
	if err != nil {
		fmt.Fprintf(stdout, "\nGPU: none (%v): no GPU figures\n", err)
		return nil
	}
	defer gpu.Close()
	in := gpu.Info()
	peakFlops, peakBW := fp32Peak(in), in.PeakBandwidth()
	fmt.Fprintf(stdout, "\nGPU %s: float32 FMA peak %.1f TFLOP/s, memory %.0f GB/s peak\n", gpu.Name(), peakFlops/1e12, peakBW/1e9)

	// a. The kernels of one group, timed with events.
	S, T := 1024, 100
	if quick {
		S, T = 256, 20
	}
	cfg, err := zoConfig("mode=async", fmt.Sprintf("T=%d", T), "E=0")
	if err != nil {
		return err
	}
	seeds := make([]uint64, S)
	for i := range seeds {
		seeds[i] = uint64(i)
	}
	prof := cuda.NewProfiler(gpu)
	if _, err := zo.RunDevice(ctx, &cfg, seeds, cpuBE, prof, nil); err != nil {
		return fmt.Errorf("GPU kernels: %w", err)
	}
	times, err := prof.Times()
	if err != nil {
		return err
	}
	var total time.Duration
	for _, kt := range times {
		total += kt.Total
	}
	net := kernels.MLP{In: cfg.K, Hidden: cfg.Hidden}
	macs := net.NumParams() - 1 // weights: one multiply-add each; the biases are not
	for _, h := range cfg.Hidden {
		macs -= h
	}
	fmt.Fprintf(stdout, "Kernels of paper000 (async) for %d seeds, %d iterations, device time per iteration:\n", S, T)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KERNEL\tLAUNCHES\tTIME/ITER\tSHARE\tRATE\tOF PEAK")
	for _, kt := range times {
		rate, of := "-", "-"
		if strings.HasPrefix(kt.Name, "zo_forward_w") {
			flops := float64(kt.Launches) * float64(S*cfg.N*cfg.B) * 2 * float64(macs)
			r := flops / kt.Total.Seconds()
			rate, of = fmt.Sprintf("%.0f GFLOP/s", r/1e9), fmt.Sprintf("%.1f%% (FP32 FMA)", 100*r/peakFlops)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f%%\t%s\t%s\n", kt.Name, kt.Launches, fmtDuration(kt.Total/time.Duration(T)), 100*kt.Total.Seconds()/total.Seconds(), rate, of)
	}
	fmt.Fprintf(tw, "all\t\t%s\t100%%\t%.0f seed-iterations/s\t\n", fmtDuration(total/time.Duration(T)), float64(S*T)/total.Seconds())
	tw.Flush()

	// b. The update at full load (every ring slot read): bytes are exact.
	if err := updateBandwidth(gpu, &cfg, S, peakBW, stdout); err != nil {
		return err
	}

	// c. End to end through the sweep engine.
	fams := batch.Families{"zo": zo.Family{Backend: cpuBE, GPU: gpu}}
	e2eT, scale := 200, 10
	if quick {
		e2eT, scale = 40, 50
	}
	fmt.Fprintf(stdout, "End to end on the GPU (T = %d, scaled to T = 2000):\n", e2eT)
	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SETUP\tSEED-RUNS\tWALL\tSEED-RUNS/S\tVS CPU")
	for _, run := range []struct {
		name  string
		sets  []string
		seeds int
		cpu   float64
	}{
		{"paper000, 4 zeroth-order modes", []string{"mode=" + strings.Join(zo.ZOModes, ",")}, S, cpuRate},
		{"paper000 with N = 256, async", []string{"mode=async", "N=256"}, S / 4, 0},
	} {
		sets := append([]string{fmt.Sprintf("T=%d", e2eT)}, run.sets...)
		cells, wall, err := runPreset(ctx, fams, "paper000", sets, run.seeds, workers)
		if err != nil {
			return fmt.Errorf("end to end on the GPU (%s): %w", run.name, err)
		}
		rate := float64(cells) / wall.Seconds() / float64(scale)
		vs := "-"
		if run.cpu > 0 {
			vs = fmt.Sprintf("%.1fx", rate/run.cpu)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f s\t%.1f\t%s\n", run.name, cells, wall.Seconds(), rate, vs)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "(VS CPU: section 3's rate of the selected CPU kernels on %s)\n", plural(workers, "core"))
	return nil
}

// zoConfig resolves paper000 with overrides.
func zoConfig(sets ...string) (zo.Config, error) {
	v, err := zo.Schema().Resolve(zo.Presets()[0].Set, sets)
	if err != nil {
		return zo.Config{}, err
	}
	return zo.NewConfig(v)
}

// updateBandwidth times zo_update on S seeds of cfg's shape with every
// coefficient nonzero, so that it reads the whole ring, and prints its
// memory throughput.
func updateBandwidth(gpu *cuda.GPU, cfg *zo.Config, S int, peakBW float64, stdout io.Writer) error {
	q, err := gpu.NewStream()
	if err != nil {
		return err
	}
	defer q.Close()
	A, slots := cfg.Agents(cfg.Mode), cfg.Slots(cfg.Mode)
	P := kernels.MLP{In: cfg.K, Hidden: cfg.Hidden}.NumParams()
	theta, err := q.Alloc(int64(S * A * P * 4))
	if err != nil {
		return err
	}
	ring, err := q.Alloc(int64(S) * int64(A*slots*P) * 4)
	if err != nil {
		return err
	}
	ones := make([]float32, S*A*slots)
	for i := range ones {
		ones[i] = 1e-6
	}
	coef, err := q.Alloc(int64(len(ones) * 4))
	if err != nil {
		return err
	}
	if err := q.Upload(coef, cuda.Bytes(ones)); err != nil {
		return err
	}
	const reps = 20
	launch := func() error {
		n := S * A * P
		return q.Launch("zo_update", cuda.Grid(n, 256), cuda.D1(256), theta.Arg(), ring.Arg(), coef.Arg(),
			cuda.I32(S), cuda.I32(A), cuda.I32(P), cuda.I32(slots))
	}
	if err := launch(); err != nil { // warm-up
		return err
	}
	start, err := q.Record()
	if err != nil {
		return err
	}
	defer start.Close()
	for range reps {
		if err := launch(); err != nil {
			return err
		}
	}
	stop, err := q.Record()
	if err != nil {
		return err
	}
	defer stop.Close()
	d, err := start.Elapsed(stop)
	if err != nil {
		return err
	}
	bytes := float64(S*A*P)*4*float64(2+slots) + float64(S*A*slots)*4
	bw := bytes * reps / d.Seconds()
	fmt.Fprintf(stdout, "zo_update with all %d ring slots in use, %d seeds: %s per call, %.0f GB/s, %.1f%% of the memory peak\n",
		slots, S, fmtDuration(d/reps), bw/1e9, 100*bw/peakBW)
	return nil
}
