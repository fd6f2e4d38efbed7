package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/batchrun/batchrun/results"
)

// skipWithGPU skips a test of the behaviour without a GPU where one works.
func skipWithGPU(t *testing.T) {
	t.Helper()
	if gpu, err := openGPU(0); err == nil {
		gpu.Close()
		t.Skip("a GPU works here")
	}
}

// Without a GPU, --backend cuda is a usage error that says why and writes
// nothing.
func TestBackendCudaWithoutGPUExits2(t *testing.T) {
	skipWithGPU(t)
	out := filepath.Join(t.TempDir(), "out")
	for _, env := range []string{"", "cuda"} {
		t.Setenv(BackendVariable, env)
		args := []string{"run", "--out", out, "--preset", "paper000", "--seeds", "1"}
		if env == "" {
			args = append(args, "--backend", "cuda")
		}
		code, _, stderr := runCLI(t, context.Background(), args...)
		if code != exitUsage {
			t.Fatalf("%s=%q: exit code %d, want %d; stderr:\n%s", BackendVariable, env, code, exitUsage, stderr)
		}
		from := "--backend cuda"
		if env != "" {
			from = "$" + BackendVariable + " cuda"
		}
		for _, want := range []string{from, "cuda: ", "--backend cpu or auto runs on the CPU"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("more than one line:\n%s", stderr)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("output directory exists after a usage error (stat: %v)", err)
		}
	}
	// A plan without zeroth-order cells needs no GPU.
	code, _, stderr := runCLI(t, context.Background(), "run", "--out", out, "--preset", "paper000", "--seeds", "1",
		"--set", "mode=full-power", "--set", "T=10", "--backend", "cuda", "--quiet")
	if code != 0 {
		t.Errorf("--backend cuda with only full-power cells: exit code %d; stderr:\n%s", code, stderr)
	}
}

// Without a GPU, --backend auto says so in one line and runs on the CPU;
// the manifest names the CPU kernels. Families other than zo never look for
// a GPU.
func TestBackendAutoFallsBackToCPU(t *testing.T) {
	skipWithGPU(t)
	t.Setenv(BackendVariable, "")
	out := filepath.Join(t.TempDir(), "out")
	code, _, stderr := runCLI(t, context.Background(), "run", "--out", out, "--preset", "paper000", "--seeds", "1",
		"--set", "mode=async", "--set", "T=20", "--kernels", "generic")
	if code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	}
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "no GPU") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "batchrun: no GPU (") || !strings.Contains(lines[0], "run on the CPU (cpu/generic)") {
		t.Errorf("want one line saying there is no GPU and what runs instead, got %q in\n%s", lines, stderr)
	}
	m, err := results.ReadManifest(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Backend != "cpu/generic" {
		t.Errorf("manifest backend %q, want cpu/generic", m.Backend)
	}
	code, _, stderr = runCLI(t, context.Background(), "run", "--out", filepath.Join(t.TempDir(), "p"), "--preset", "paper002-qp")
	if code != 0 || strings.Contains(stderr, "GPU") {
		t.Errorf("psdda run: exit code %d, stderr mentions a GPU:\n%s", code, stderr)
	}
}
