package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/cpuid/v2"

	"github.com/batchrun/batchrun/kernels/cuda"
)

func TestInfo(t *testing.T) {
	out := mustRun(t, "info")
	for _, want := range []string{
		"Version: batchrun ", "Go: go", "CPU: ", "logical cores",
		"CPU features: ", "AVX2 ", "FMA3 ", "AVX512F ", "AVX512DQ ", "BMI2 ", "AVX512VL ",
		"Kernel variants:", "avx512", "avx2", "generic",
		"Selected kernels: ", "GPU: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("batchrun info: no %q in\n%s", want, out)
		}
	}
	// The selected variant is one the CPU runs and this binary has.
	_, sel, _ := strings.Cut(out, "Selected kernels: ")
	name, _, _ := strings.Cut(sel, " ")
	v, ok := variantNamed(name)
	if !ok || len(v.missing()) > 0 {
		t.Errorf("batchrun info selects %q, which is not a variant this CPU runs", name)
	}
	if _, err := backendFor(name); err != nil {
		t.Errorf("batchrun info selects %q: %v", name, err)
	}
	// What --backend auto selects is said either way.
	if !strings.Contains(out, "--backend auto ") {
		t.Errorf("batchrun info does not say what --backend auto selects:\n%s", out)
	}
	if _, err := cuda.Load(); err != nil && !strings.Contains(out, "GPU: none (") {
		t.Errorf("batchrun info: the CUDA driver does not load here (%v), but the GPU line says otherwise:\n%s", err, out)
	}
}

func TestBenchQuickGeneric(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	out := mustRun(t, "bench", "--quick", "--kernels", "generic")
	for _, want := range []string{"FMA peak", "scalar", "GFLOP/s", "OF PEAK", "Forward", "Rates", "ns/link-sample", "Perturb", "ns/normal", "Update", "SEED-RUNS/S"} {
		if !strings.Contains(out, want) {
			t.Errorf("batchrun bench: no %q in\n%s", want, out)
		}
	}
	// Every peak and the end-to-end rate are positive numbers.
	section, peaks, runs := "", 0, 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "FMA peak"), strings.HasPrefix(line, "Kernels at"), strings.HasPrefix(line, "End to end"):
			section = line
		case strings.HasPrefix(section, "FMA peak") && len(f) >= 3 && f[0] != "LOOP":
			if g, err := strconv.ParseFloat(f[2], 64); err != nil || !(g > 0) {
				t.Errorf("peak line %q: GFLOP/s %q, want > 0", line, f[2])
			}
			peaks++
		case strings.HasPrefix(section, "End to end") && len(f) >= 5 && f[0] == "generic":
			if r, err := strconv.ParseFloat(f[4], 64); err != nil || !(r > 0) {
				t.Errorf("end-to-end line %q: seed-runs/s %q, want > 0", line, f[4])
			}
			runs++
		}
	}
	if peaks == 0 || runs != 1 {
		t.Errorf("batchrun bench: %d peak rows and %d generic end-to-end rows, want at least 1 and 1:\n%s", peaks, runs, out)
	}
	// The end-to-end runs leave nothing behind.
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("bench left %d entries in the temporary directory (%s ...)", len(left), left[0].Name())
	}
}

func TestBenchBadKernelsExits2(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--kernels", "sse4"}, []string{`--kernels "sse4"`, "auto, avx512, avx2, generic"}},
		{[]string{"--kernels=AVX2"}, []string{"allowed: auto"}},
		{[]string{"--kernels"}, []string{"allowed: auto"}},
		{[]string{"--quick", "extra"}, []string{"unexpected argument"}},
	} {
		code, stdout, stderr := runCLI(t, context.Background(), append([]string{"bench"}, tc.args...)...)
		if code != exitUsage {
			t.Errorf("bench %q: exit %d, want %d\n%s%s", tc.args, code, exitUsage, stdout, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("bench %q: stderr %q, want %q", tc.args, stderr, w)
			}
		}
		if stdout != "" {
			t.Errorf("bench %q: measured before checking its flags:\n%s", tc.args, stdout)
		}
	}
	// A variant this binary does not have yet is a usage error too.
	for _, v := range []string{"avx2", "avx512"} {
		_, err := backendFor(v)
		if err != nil && len(mustVariant(t, v).missing()) == 0 {
			code, _, stderr := runCLI(t, context.Background(), "bench", "--quick", "--kernels", v)
			if code != exitUsage || !strings.Contains(stderr, "not built") {
				t.Errorf("bench --kernels %s (not built): exit %d, stderr %q; want %d, not built", v, code, stderr, exitUsage)
			}
		}
	}
}

func mustVariant(t *testing.T, name string) kernelVariant {
	t.Helper()
	v, ok := variantNamed(name)
	if !ok {
		t.Fatalf("no variant %q", name)
	}
	return v
}

// On a CPU without AVX-512 (simulated), --kernels avx512 exits 2 naming
// what is missing, and auto never selects it.
func TestBenchVariantTheCPULacksExits2(t *testing.T) {
	old := cpuHas
	defer func() { cpuHas = old }()
	cpuHas = func(f cpuid.FeatureID) bool {
		switch f {
		case cpuid.AVX512F, cpuid.AVX512DQ, cpuid.AVX512BW, cpuid.AVX512VL:
			return false
		}
		return old(f)
	}
	code, stdout, stderr := runCLI(t, context.Background(), "bench", "--quick", "--kernels", "avx512")
	if code != exitUsage || !strings.Contains(stderr, "lacks AVX512F") || !strings.Contains(stderr, "it runs: ") || stdout != "" {
		t.Errorf("bench --kernels avx512 without AVX-512: exit %d, stdout %q, stderr %q; want %d and a message naming AVX512F", code, stdout, stderr, exitUsage)
	}
	if v, _, err := selectKernels("auto"); err != nil || v.name == "avx512" {
		t.Errorf("auto without AVX-512 selects %q (%v)", v.name, err)
	}
	out := mustRun(t, "info")
	if !strings.Contains(out, "AVX512F no") || !strings.Contains(out, "no (lacks AVX512F") {
		t.Errorf("info without AVX-512 does not say so:\n%s", out)
	}
}

func TestBenchAndInfoHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "bench"}, "Usage: batchrun bench"},
		{[]string{"bench", "--help"}, "--quick"},
		{[]string{"help", "info"}, "Usage: batchrun info"},
		{[]string{"info", "-h"}, "Usage: batchrun info"},
		{[]string{"help"}, "batchrun bench"},
	} {
		code, stdout, _ := runCLI(t, context.Background(), tc.args...)
		if code != exitOK || !strings.Contains(stdout, tc.want) {
			t.Errorf("%q: exit %d, want 0 and %q in\n%s", tc.args, code, tc.want, stdout)
		}
	}
}
