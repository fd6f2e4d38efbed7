package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/klauspost/cpuid/v2"

	"github.com/batchrun/batchrun/algo/asynpd"
	"github.com/batchrun/batchrun/algo/psdda"
	"github.com/batchrun/batchrun/algo/zo"
	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/kernels"
	"github.com/batchrun/batchrun/kernels/cpu"
	"github.com/batchrun/batchrun/kernels/cuda"
	"github.com/batchrun/batchrun/kernels/peak"
	"github.com/batchrun/batchrun/results"
)

// kernelVariant is one CPU kernel set: its name (the --kernels value), the
// CPU features it needs, and the peak loop (package kernels/peak) its
// GFLOP/s are compared with.
type kernelVariant struct {
	name     string
	features []cpuid.FeatureID
	peak     string
}

// kernelVariants lists the CPU kernel sets, best first: --kernels auto
// takes the first that the CPU runs and this binary has (backendFor).
var kernelVariants = []kernelVariant{
	{"avx512", []cpuid.FeatureID{cpuid.AVX512F, cpuid.AVX512DQ, cpuid.AVX512VL, cpuid.BMI2, cpuid.AVX2, cpuid.FMA3}, "avx512"},
	{"avx2", []cpuid.FeatureID{cpuid.AVX2, cpuid.FMA3}, "avx2"},
	{"generic", nil, "scalar"},
}

// infoFeatures are the CPU features info reports.
var infoFeatures = []cpuid.FeatureID{cpuid.AVX2, cpuid.FMA3, cpuid.BMI2, cpuid.AVX512F, cpuid.AVX512DQ, cpuid.AVX512VL}

// backendFor returns the compute backend of a kernel variant ("generic",
// "avx2", "avx512"), or an error when this binary does not have it. The
// caller has checked that the CPU runs the variant.

func backendFor(variant string) (kernels.Backend, error) {
	return cpu.NewVariant(variant)
}

func variantNamed(name string) (kernelVariant, bool) {
	for _, v := range kernelVariants {
		if v.name == name {
			return v, true
		}
	}
	return kernelVariant{}, false
}

// cpuHas reports a CPU feature (a variable, for tests).
var cpuHas = func(f cpuid.FeatureID) bool { return cpuid.CPU.Supports(f) }

// missing returns the features of v the CPU lacks.
func (v kernelVariant) missing() []string {
	var out []string
	for _, f := range v.features {
		if !cpuHas(f) {
			out = append(out, f.String())
		}
	}
	return out
}

func variantNames() []string {
	var out []string
	for _, v := range kernelVariants {
		out = append(out, v.name)
	}
	return out
}

// selectKernels resolves a --kernels value: auto, or a variant the CPU
// runs and this binary has; "" takes $BATCHRUN_KERNELS, else auto. Every
// error is a usage error.
func selectKernels(flag string) (kernelVariant, kernels.Backend, error) {
	if flag == "" {
		flag = os.Getenv(cpu.EnvVariable)
		if flag == "" {
			flag = "auto"
		}
	}
	if flag == "auto" {
		for _, v := range kernelVariants {
			if len(v.missing()) > 0 {
				continue
			}
			if be, err := backendFor(v.name); err == nil {
				return v, be, nil
			}
		}
		return kernelVariant{}, nil, fmt.Errorf("no kernel variant available") // generic always is
	}
	v, ok := variantNamed(flag)
	if !ok {
		return kernelVariant{}, nil, usagef("--kernels %q: allowed: auto, %s", flag, strings.Join(variantNames(), ", "))
	}
	if miss := v.missing(); len(miss) > 0 {
		return kernelVariant{}, nil, usagef("--kernels %s: this CPU (%s) lacks %s; it runs: %s (see batchrun info)",
			v.name, cpuName(), strings.Join(miss, ", "), strings.Join(cpuVariants(), ", "))
	}
	be, err := backendFor(v.name)
	if err != nil {
		return kernelVariant{}, nil, usagef("--kernels %s: %v (this binary has: %s)", v.name, err, strings.Join(builtVariants(), ", "))
	}
	return v, be, nil
}

// cpuVariants returns the variants the CPU runs; builtVariants those of
// them this binary has.
func cpuVariants() []string {
	var out []string
	for _, v := range kernelVariants {
		if len(v.missing()) == 0 {
			out = append(out, v.name)
		}
	}
	return out
}

func builtVariants() []string {
	var out []string
	for _, v := range kernelVariants {
		if _, err := backendFor(v.name); err == nil {
			out = append(out, v.name)
		}
	}
	return out
}

func cpuName() string {
	if b := strings.TrimSpace(cpuid.CPU.BrandName); b != "" {
		return b
	}
	return "unknown CPU"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// gpuReport says what the CUDA driver finds: the driver, every device,
// and what --backend auto selects.
func gpuReport() string {
	var b strings.Builder
	d, err := cuda.Load()
	if err != nil {
		fmt.Fprintf(&b, "GPU: none (%v)\n--backend auto runs on the CPU", err)
		return b.String()
	}
	n, err := d.Devices()
	if err != nil || n == 0 {
		fmt.Fprintf(&b, "GPU: %s loaded (driver %s), but no device: %v\n--backend auto runs on the CPU", d.Library(), driverVersion(d.Version()), err)
		return b.String()
	}
	fmt.Fprintf(&b, "GPU: %s loaded (driver %s), %s:\n", d.Library(), driverVersion(d.Version()), plural(n, "device"))
	for i := 0; i < n; i++ {
		g, err := d.Open(i, nil)
		if err != nil {
			fmt.Fprintf(&b, "  cuda:%d: %v\n", i, err)
			continue
		}
		in := g.Info()
		fmt.Fprintf(&b, "  cuda:%d %s, %.1f GiB (%.1f free), %s, %d SMs at %d MHz, memory %.0f GB/s peak\n",
			i, in.Name, float64(in.TotalMemory)/(1<<30), float64(in.FreeMemory)/(1<<30), in.Arch(), in.SMs, in.ClockRate/1000, in.PeakBandwidth()/1e9)
		g.Close()
	}
	g, err := openGPU(0)
	if err != nil {
		fmt.Fprintf(&b, "--backend auto runs on the CPU: device 0 does not load the zo kernels: %v", err)
		return b.String()
	}
	fmt.Fprintf(&b, "--backend auto selects %s (--device picks another)", g.Name())
	g.Close()
	return b.String()
}

// driverVersion formats a CUDA driver version such as 13000 as "13.0".
func driverVersion(v int) string { return fmt.Sprintf("%d.%d", v/1000, v%1000/10) }

const infoUsage = `Usage: batchrun info

Prints what batchrun finds on this machine: its version and Go toolchain,
the CPU with its SIMD features, the kernel variants the CPU runs and this
binary has, the one --kernels auto selects, and what the CUDA driver
(libcuda.so.1) finds: its devices and the one --backend auto selects.
`

func cmdInfo(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("info", infoUsage)
	if err := parseFlags(fs, args, stdout, false); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Version: batchrun %s\n", results.Version())
	fmt.Fprintf(stdout, "Go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(stdout, "CPU: %s (%s family %d model %d), %d logical cores (%d for this process)\n",
		cpuName(), cpuid.CPU.VendorString, cpuid.CPU.Family, cpuid.CPU.Model, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	var feats []string
	for _, f := range infoFeatures {
		feats = append(feats, f.String()+" "+yesNo(cpuHas(f)))
	}
	fmt.Fprintf(stdout, "CPU features: %s\n", strings.Join(feats, ", "))
	fmt.Fprintln(stdout, "Kernel variants:")
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  VARIANT\tCPU\tBUILT\tNEEDS")
	for _, v := range kernelVariants {
		built := "yes"
		if _, err := backendFor(v.name); err != nil {
			built = "no: " + err.Error()
		}
		cpuOK := "yes"
		if miss := v.missing(); len(miss) > 0 {
			cpuOK = "no (lacks " + strings.Join(miss, " ") + ")"
		}
		var needs []string
		for _, f := range v.features {
			needs = append(needs, f.String())
		}
		if len(needs) == 0 {
			needs = []string{"-"}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", v.name, cpuOK, built, strings.Join(needs, " "))
	}
	tw.Flush()
	v, be, err := selectKernels("")
	if err != nil {
		return err
	}
	how := "auto: the best variant the CPU runs and this binary has"
	if env := os.Getenv(cpu.EnvVariable); env != "" {
		how = "from $" + cpu.EnvVariable + "=" + env
	}
	fmt.Fprintf(stdout, "Selected kernels: %s (%s; %s)\n", v.name, be.Name(), how)
	fmt.Fprintf(stdout, "FMA peak loops (batchrun bench measures them): %s\n", strings.Join(peak.Supported(), ", "))
	fmt.Fprintln(stdout, gpuReport())
	return nil
}

const benchUsage = `Usage: batchrun bench [--kernels auto|generic|avx2|avx512] [--quick] [--device N]

Measures this machine for batchrun:

  1. the float32 FMA peak of one core: loops of independent fused
     multiply-adds on AVX-512 and AVX2 registers, and the pure-Go scalar
     loop (what the generic kernels compile to);
  2. every kernel at the paper000 shape on one core, for the selected
     kernels and the generic ones: GFLOP/s and the fraction of the matching
     peak (avx512 and avx2 kernels: their loop; generic: scalar), or ns per
     item where flops do not apply;
  3. end to end: paper000 with T = 200 and the four zeroth-order modes, 2
     replicates per worker, through the sweep engine on all cores (in a
     temporary directory, removed afterwards), in seed-runs per second
     scaled to paper000's T = 2000, for the selected kernels and the
     generic ones;
  4. psdda at scale: PS-DDA on 10,000 nodes (the scaling preset, d = 10)
     with delays b = 1 and b = 10, one seed per worker, in seed-steps per
     second and the time ratio of b = 10 to b = 1;
  5. asynpd on one core: Asyn-PD worker updates per second at the paper003
     size (10 workers, d = 5) and with 10,000 workers (d = 5), and the time
     that rate gives for 10 million updates;
  6. the zo first-order references (gorgonia graphs, Adam): paper000 with
     T = 200 (--quick: 50), first-order and central-first-order, 2
     replicates per worker, through the sweep engine on all cores, in
     seconds per seed-run scaled to T = 2000;
  7. where a CUDA GPU loads (--device picks it): the device time of every
     zo kernel of paper000 (async) for 1024 seeds (--quick: 256), with the
     forward pass's GFLOP/s and fraction of the float32 FMA peak; the
     update's memory throughput and fraction of the memory peak with every
     ring slot in use; and end to end through the sweep engine, paper000's
     four zeroth-order modes and paper000 with N = 256, in seed-runs per
     second at T = 2000 and against section 3's CPU rate.

Timings take about 0.3 s per measure (--quick: 0.05 s) plus the end-to-end
runs, a few seconds on 2 cores.
`

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", benchUsage)
	kernelsFlag := fs.String("kernels", "", "kernel variant: auto, "+strings.Join(variantNames(), ", ")+" (default: $"+cpu.EnvVariable+", else auto: the best the CPU runs and this binary has)")
	quick := fs.Bool("quick", false, "short timings (0.05 s per measure instead of 0.3 s)")
	device := fs.Int("device", 0, "CUDA device of section 7")
	if err := parseFlags(fs, args, stdout, false); err != nil {
		return err
	}
	if *device < 0 {
		return usagef("--device %d: want a CUDA device ordinal >= 0", *device)
	}
	sel, selBE, err := selectKernels(*kernelsFlag)
	if err != nil {
		return err
	}
	dur := 300 * time.Millisecond
	if *quick {
		dur = 50 * time.Millisecond
	}
	workers := runtime.GOMAXPROCS(0)
	how := "--kernels " + *kernelsFlag
	if *kernelsFlag == "" {
		how = "auto"
		if env := os.Getenv(cpu.EnvVariable); env != "" {
			how = "$" + cpu.EnvVariable + "=" + env
		}
	}
	fmt.Fprintf(stdout, "batchrun %s %s %s/%s; %s, %d logical cores; kernels: %s (%s)\n\n",
		results.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH, cpuName(), runtime.NumCPU(), sel.name, how)

	// 1. Peaks.
	peaks := map[string]float64{}
	fmt.Fprintln(stdout, "FMA peak, float32, one core:")
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LOOP\tLANES\tGFLOP/s\tLOOP BODY")
	for _, kind := range peak.Supported() {
		if err := ctx.Err(); err != nil {
			return err
		}
		g := peak.Measure(kind, dur)
		peaks[kind] = g
		note := fmt.Sprintf("%d x VFMADD231PS per step", peak.Accumulators)
		if kind == "scalar" {
			note = "pure Go: a multiply and an add per step"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\n", kind, peak.Lanes(kind), g, note)
	}
	tw.Flush()
	best := peak.Supported()[0]

	// 2. Kernels.
	variants := []kernelVariant{sel}
	backends := []kernels.Backend{selBE}
	if sel.name != "generic" {
		g, _ := variantNamed("generic")
		gbe, err := backendFor("generic")
		if err != nil {
			return err
		}
		variants, backends = append(variants, g), append(backends, gbe)
	}
	fmt.Fprintln(stdout, "\nKernels at the paper000 shape (5-30-30-1 MLPs), one core:")
	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "KERNEL\tVARIANT\tSHAPE\tTIME/CALL\tRATE\tOF PEAK\tOF %s PEAK\tVS GENERIC\n", strings.ToUpper(best))
	for _, kb := range kernelBenches() {
		per := make([]time.Duration, len(variants))
		var generic time.Duration
		for i, v := range variants {
			if err := ctx.Err(); err != nil {
				return err
			}
			per[i] = timeCalls(kb.setup(backends[i]), dur)
			if v.name == "generic" {
				generic = per[i]
			}
		}
		for i, v := range variants {
			rate, ofPeak, ofBest, speed := "", "-", "-", "-"
			if kb.flops > 0 {
				g := kb.flops / per[i].Seconds() / 1e9
				rate = fmt.Sprintf("%.2f GFLOP/s", g)
				if p := peaks[v.peak]; p > 0 {
					ofPeak = fmt.Sprintf("%.1f%% (%s)", 100*g/p, v.peak)
				}
				ofBest = fmt.Sprintf("%.1f%%", 100*g/peaks[best])
			} else {
				rate = fmt.Sprintf("%.2f ns/%s", float64(per[i].Nanoseconds())/kb.items, kb.unit)
			}
			if v.name != "generic" {
				speed = fmt.Sprintf("%.2fx", generic.Seconds()/per[i].Seconds())
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", kb.name, v.name, kb.shape, fmtDuration(per[i]), rate, ofPeak, ofBest, speed)
		}
	}
	tw.Flush()

	// 3. End to end.
	const T, scale = 200, 10 // paper000 runs T = 2000
	reps := 2 * workers
	fmt.Fprintf(stdout, "\nEnd to end: paper000 with T = %d, modes %s, %d replicates each, %s; scaled to T = %d:\n",
		T, strings.Join(zo.ZOModes, ", "), reps, plural(workers, "worker"), T*scale)
	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KERNELS\tSEED-RUNS\tWALL\tSEED-RUNS/S\tS/SEED-RUN\tCORE-S/SEED-RUN\tSPEEDUP")
	var genericRate float64
	type e2eRow struct {
		name  string
		cells int
		wall  time.Duration
		rate  float64
	}
	var rows []e2eRow
	for i, v := range variants {
		cells, wall, err := endToEnd(ctx, backends[i], T, reps, workers)
		if err != nil {
			return fmt.Errorf("end to end with the %s kernels: %w", v.name, err)
		}
		rate := float64(cells) / wall.Seconds() / scale // seed-runs of T = 2000 per second
		if v.name == "generic" {
			genericRate = rate
		}
		rows = append(rows, e2eRow{name: v.name, cells: cells, wall: wall, rate: rate})
	}
	for _, r := range rows {
		speed := "-"
		if genericRate > 0 && r.name != "generic" {
			speed = fmt.Sprintf("%.2fx", r.rate/genericRate)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f s\t%.3f\t%.2f\t%.2f\t%s\n", r.name, r.cells, r.wall.Seconds(), r.rate, 1/r.rate, float64(workers)/r.rate, speed)
	}
	tw.Flush()
	fmt.Fprintln(stdout, "(SEED-RUNS/S and S/SEED-RUN at T = 2000 on all cores: the T = 200 figures divided by 10; CORE-S: times the workers)")

	// 4. psdda.
	psddaT := 300
	if *quick {
		psddaT = 60
	}
	if err := psddaScaling(ctx, stdout, psddaT, workers); err != nil {
		return err
	}
	// 5. asynpd.
	if err := asynpdThroughput(ctx, stdout, *quick); err != nil {
		return err
	}
	// 6. zo first-order references.
	if err := firstOrderThroughput(ctx, stdout, selBE, *quick, workers); err != nil {
		return err
	}
	// 7. The GPU.
	return gpuBench(ctx, stdout, selBE, *device, *quick, workers, rows[0].rate)
}

// firstOrderThroughput runs paper000's first-order references with a short
// horizon through the sweep engine, one mode at a time, and prints the time
// per seed-run scaled to T = 2000.
func firstOrderThroughput(ctx context.Context, stdout io.Writer, be kernels.Backend, quick bool, workers int) error {
	T := 200
	if quick {
		T = 50
	}
	scale := 2000 / float64(T)
	reps := 2 * workers
	fmt.Fprintf(stdout, "\nzo first-order references (gorgonia graph, Adam): paper000 with T = %d, %d replicates, %s; scaled to T = 2000:\n", T, reps, plural(workers, "worker"))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODE\tSEED-RUNS\tWALL\tS/SEED-RUN\tCORE-S/SEED-RUN")
	fams := batch.Families{"zo": zo.Family{Backend: be}}
	for _, mode := range zo.FirstOrderModes {
		cells, wall, err := runPreset(ctx, fams, "paper000", []string{fmt.Sprintf("T=%d", T), "mode=" + mode}, reps, workers)
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		per := wall.Seconds() / float64(cells) * scale
		fmt.Fprintf(tw, "%s\t%d\t%.2f s\t%.2f\t%.2f\n", mode, cells, wall.Seconds(), per, per*float64(workers))
	}
	return tw.Flush()
}

// asynpdThroughput runs Asyn-PD seeds one after another on this goroutine
// (one core) and prints worker updates per second: paper003 for at least
// half a second (--quick: a tenth), and 10,000 workers for 500 (--quick:
// 100) time units, about 2 (0.4) million updates.
func asynpdThroughput(ctx context.Context, stdout io.Writer, quick bool) error {
	fmt.Fprint(stdout, "\nasynpd: Asyn-PD on one core (seeds one after another):\n")
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SETUP\tSEEDS\tUPDATES\tWALL\tUPDATES/S\tEST. S PER 10M UPDATES")
	minWall, horizon := 500*time.Millisecond, "500"
	if quick {
		minWall, horizon = 100*time.Millisecond, "100"
	}
	for _, c := range []struct {
		name string
		set  []string
		min  time.Duration
	}{
		{"paper003: n = 10, d = 5, 3000 time units", nil, minWall},
		{"n = 10,000, d = 5, " + horizon + " time units", []string{"n=10000", "horizon=" + horizon, "grid=10"}, 0},
	} {
		v, err := asynpd.Schema().Resolve(nil, c.set)
		if err != nil {
			return err
		}
		cfg, err := asynpd.NewConfig(v)
		if err != nil {
			return err
		}
		star, err := cfg.Problem.Solve()
		if err != nil {
			return err
		}
		var updates int64
		seeds := 0
		t0 := time.Now()
		for seeds == 0 || time.Since(t0) < c.min {
			res, err := asynpd.Run(ctx, &cfg, star, uint64(seeds), nil, nil)
			if err != nil {
				return err
			}
			updates += res.Updates
			seeds++
		}
		wall := time.Since(t0)
		rate := float64(updates) / wall.Seconds()
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f s\t%.3g\t%.1f\n", c.name, seeds, updates, wall.Seconds(), rate, 1e7/rate)
	}
	tw.Flush()
	fmt.Fprintln(stdout, "(go test -run '^$' -bench Workers10k ./algo/asynpd runs the full 10 million updates)")
	return nil
}

// fmtDuration prints a call time with 3 significant digits.
func fmtDuration(d time.Duration) string {
	s := d.Seconds()
	switch {
	case s >= 1:
		return fmt.Sprintf("%.3g s", s)
	case s >= 1e-3:
		return fmt.Sprintf("%.3g ms", s*1e3)
	default:
		return fmt.Sprintf("%.3g us", s*1e6)
	}
}

// timeCalls runs call repeatedly for about d on one OS thread, after one
// warm-up call, and returns the mean time per call.
func timeCalls(call func(), d time.Duration) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	call()
	n := 0
	t0 := time.Now()
	for {
		call()
		n++
		if el := time.Since(t0); el >= d {
			return el / time.Duration(n)
		}
	}
}

// kernelBench is one kernel benchmark through the kernels.Backend
// interface: setup builds its inputs (the same for every backend) and
// returns one call. A call does flops floating-point operations (0: report
// time per item instead), or items items of unit.
type kernelBench struct {
	name, shape string
	flops       float64
	items       float64
	unit        string
	setup       func(be kernels.Backend) func()
}

// The paper000 shape: N links, B channel samples, 5-30-30-1 MLPs.
const benchN, benchB = 24, 10

var benchNet = kernels.MLP{In: 5, Hidden: []int{30, 30}}

func normals(rng *rand.Rand, n int, scale float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(scale * rng.NormFloat64())
	}
	return out
}

func uniforms(rng *rand.Rand, n int, lo, hi float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return out
}

// kernelBenches returns the kernel benchmarks at the paper000 shape.
func kernelBenches() []kernelBench {
	const S = 64
	N, B, net := benchN, benchB, benchNet
	P := net.NumParams()
	// Multiply-adds per sample of one agent: every layer's weights, output included.
	macs, in := 0, net.In
	for _, h := range net.Hidden {
		macs += in * h
		in = h
	}
	macs += in
	const updS, updP, updSlots = 8, 1231, 40
	return []kernelBench{
		{
			name: "Forward", shape: fmt.Sprintf("S=%d N=%d B=%d, with U", S, N, B),
			flops: 2 * float64(macs) * S * float64(N*B),
			setup: func(be kernels.Backend) func() {
				rng := rand.New(rand.NewPCG(1, 1))
				f := &kernels.Forward{Net: net, S: S, N: N, B: B,
					Theta: normals(rng, S*N*P, 0.1), ThetaSeedStride: N * P, ThetaAgentStride: P,
					U: normals(rng, S*N*P, 1), USeedStride: N * P, UAgentStride: P, Mu: 0.05,
					Obs: uniforms(rng, S*B*N*net.In, 0, 1), ObsSeedStride: B * N * net.In,
					Pmax: 10, Power: make([]float32, S*B*N), PowerSeedStride: B * N}
				f.Scratch = make([]float32, be.ForwardScratchLen(f))
				return func() { be.Forward(f) }
			},
		},
		{
			name: "Rates", shape: fmt.Sprintf("S=%d N=%d B=%d", S, N, B),
			items: S * float64(N*B), unit: "link-sample",
			setup: func(be kernels.Backend) func() {
				rng := rand.New(rand.NewPCG(2, 2))
				r := &kernels.Rates{S: S, N: N, B: B,
					H: uniforms(rng, S*B*N*N, 0, 1), HSeedStride: B * N * N,
					Power: uniforms(rng, S*B*N, 0, 10), PowerSeedStride: B * N,
					Sigma2: 1, MeanRate: make([]float64, S*N)}
				return func() { be.Rates(r) }
			},
		},
		{
			name: "Perturb", shape: fmt.Sprintf("S=%d N=%d P=%d", S, N, P),
			items: S * float64(N*P), unit: "normal",
			setup: func(be kernels.Backend) func() {
				rng := rand.New(rand.NewPCG(3, 3))
				p := &kernels.Perturb{S: S, N: N, P: P, Keys: make([]uint64, S), Streams: make([]uint64, N),
					Dst: make([]float32, S*N*P), SeedStride: N * P, AgentStride: P}
				for i := range p.Keys {
					p.Keys[i] = rng.Uint64()
				}
				for i := range p.Streams {
					p.Streams[i] = rng.Uint64()
				}
				return func() { be.Perturb(p) }
			},
		},
		{
			name: "Update", shape: fmt.Sprintf("S=%d N=%d P=%d slots=%d", updS, N, updP, updSlots),
			flops: 2 * float64(updS*N*updSlots*updP),
			setup: func(be kernels.Backend) func() {
				rng := rand.New(rand.NewPCG(4, 4))
				u := &kernels.Update{S: updS, N: N, P: updP, Slots: updSlots,
					Theta: normals(rng, updS*N*updP, 0.1), ThetaSeedStride: N * updP, ThetaAgentStride: updP,
					Ring: normals(rng, updS*N*updSlots*updP, 1), RingSeedStride: N * updSlots * updP, RingAgentStride: updSlots * updP,
					Coef: make([]float32, updS*N*updSlots)}
				for i := range u.Coef {
					// Every coefficient nonzero, small enough that theta
					// stays put over many calls.
					u.Coef[i] = float32(1e-6 * (1 + rng.Float64()))
					if rng.IntN(2) == 0 {
						u.Coef[i] = -u.Coef[i]
					}
				}
				return func() { be.Update(u) }
			},
		},
	}
}

// endToEnd runs paper000 with the given T, the four zeroth-order modes and
// reps replicates through the sweep engine on be, in a temporary directory
// (removed afterwards), and returns the cells run and the wall time.
func endToEnd(ctx context.Context, be kernels.Backend, T, reps, workers int) (int, time.Duration, error) {
	fams := batch.Families{"zo": zo.Family{Backend: be}}
	return runPreset(ctx, fams, "paper000", []string{fmt.Sprintf("T=%d", T), "mode=" + strings.Join(zo.ZOModes, ",")}, reps, workers)
}

// runPreset runs a preset with overrides and reps replicates through the
// sweep engine in a temporary directory (removed afterwards) and returns
// the cells run and the wall time of the execution.
func runPreset(ctx context.Context, fams batch.Families, preset string, sets []string, reps, workers int) (int, time.Duration, error) {
	spec, err := presetSpec(preset, fams)
	if err != nil {
		return 0, 0, err
	}
	if err := spec.Override(fams[spec.Experiment].Schema(), sets); err != nil {
		return 0, 0, err
	}
	spec.Replicates = batch.Count(reps)
	dir, err := os.MkdirTemp("", "batchrun-bench-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	spec.Out = dir
	plan, err := batch.NewPlan(spec, fams)
	if err != nil {
		return 0, 0, err
	}
	store, err := results.OpenStore(dir, "bench", plan.Columns, plan.Tables())
	if err != nil {
		return 0, 0, err
	}
	defer store.Close()
	t0 := time.Now()
	stats, err := plan.Execute(ctx, plan.Cells, store, batch.ExecOptions{Workers: workers})
	wall := time.Since(t0)
	if err != nil {
		return 0, 0, err
	}
	if stats.Cells != len(plan.Cells) {
		return 0, 0, errors.New("not every cell ran")
	}
	return stats.Cells, wall, nil
}

// psddaScaling runs the psdda scaling preset at n = 10,000 for b = 1 and
// b = 10, one seed of T steps per worker, and prints seed-steps per second
// and the time ratio.
func psddaScaling(ctx context.Context, stdout io.Writer, T, workers int) error {
	fams := batch.Families{"psdda": psdda.Family{}}
	fmt.Fprintf(stdout, "\npsdda scaling: PS-DDA, n = 10,000 nodes, random 5-strongly connected digraphs of mean out-degree 5, least squares in d = 10, T = %d, %s, one seed each:\n",
		T, plural(workers, "worker"))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DELAY b\tSEEDS\tWALL\tSEED-STEPS/S\tEST. S FOR 8 SEEDS x 1000 STEPS\tTIME / b=1")
	var base float64
	for _, b := range []int{1, 10} {
		cells, wall, err := runPreset(ctx, fams, "scaling", []string{"n=10000", fmt.Sprintf("b=%d", b), fmt.Sprintf("T=%d", T)}, workers, workers)
		if err != nil {
			return fmt.Errorf("psdda scaling, b = %d: %w", b, err)
		}
		rate := float64(cells*T) / wall.Seconds()
		if b == 1 {
			base = rate
		}
		fmt.Fprintf(tw, "%d\t%d\t%.2f s\t%.0f\t%.1f\t%.2f\n", b, cells, wall.Seconds(), rate, 8000/rate, base/rate)
	}
	tw.Flush()
	fmt.Fprintln(stdout, "(the estimate is 8,000 seed-steps at this rate; batchrun run --preset scaling --set n=10000 --set b=1 --out DIR measures the real run)")
	return nil
}
