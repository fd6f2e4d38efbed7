package cuda

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// TestPTXIsCurrent fails when the sources changed after the PTX was
// generated: the PTX's first line records the hash of the sources.
func TestPTXIsCurrent(t *testing.T) {
	got, err := PTXSourceHash(PTX())
	if err != nil {
		t.Fatal(err)
	}
	if want := SourceHash(); got != want {
		t.Fatalf("zo.ptx was generated from other sources (hash %s, the sources now %s): run `go generate ./kernels/cuda` (needs nvcc) and commit zo.ptx", got, want)
	}
}

func TestPTXSourceHashErrors(t *testing.T) {
	if _, err := PTXSourceHash([]byte("// some other header\n.version 7.8\n")); err == nil {
		t.Fatal("a PTX without the header line: no error")
	}
	if h, err := PTXSourceHash([]byte(PTXHeader("abc") + "\n")); err != nil || h != "abc" {
		t.Fatalf("PTXSourceHash(header abc) = %q, %v", h, err)
	}
}

// TestPTXEntries checks that the module defines exactly the kernels the
// Go code launches (Kernels), so a renamed or added kernel is caught here
// and not at a launch on a GPU.
func TestPTXEntries(t *testing.T) {
	var got []string
	for _, m := range regexp.MustCompile(`(?m)^\.visible \.entry (\w+)\(`).FindAllSubmatch(PTX(), -1) {
		got = append(got, string(m[1]))
	}
	var want []string
	for _, k := range Kernels {
		want = append(want, k.Name)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("PTX entries %v, Kernels %v", got, want)
	}
	for _, w := range ForwardWidths {
		if !slices.Contains(want, forwardKernel(w)) {
			t.Errorf("no kernel %s for forward width %d", forwardKernel(w), w)
		}
	}
}

// TestPTXRegenerates compiles the sources with the nvcc on this machine
// and compares the result with the committed PTX, where the nvcc release
// is the one that made it (another release may emit other code).
func TestPTXRegenerates(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	if _, err := exec.LookPath("nvcc"); err != nil {
		t.Skip("nvcc not installed")
	}
	out := filepath.Join(t.TempDir(), "zo.ptx")
	cmd := exec.Command("go", "run", "./internal/genptx", "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	release := regexp.MustCompile(`Cuda compilation tools, release [^\n]*`)
	if !bytes.Equal(release.Find(fresh), release.Find(PTX())) {
		t.Skipf("this nvcc (%s) is not the one that generated zo.ptx (%s)", release.Find(fresh), release.Find(PTX()))
	}
	if !bytes.Equal(fresh, PTX()) {
		t.Fatal("nvcc makes another PTX of the same sources: run `go generate ./kernels/cuda` and commit zo.ptx")
	}
}

// TestPTXAssemblesForHopper assembles the PTX for sm_90 (H100, H200) with
// ptxas, where it is installed.
func TestPTXAssemblesForHopper(t *testing.T) {
	ptxas, err := exec.LookPath("ptxas")
	if err != nil {
		t.Skip("ptxas not installed (Debian: nvidia-cuda-toolkit)")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "zo.ptx")
	if err := os.WriteFile(src, PTX(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ptxas, "-arch=sm_90", "-v", "-o", filepath.Join(dir, "zo.cubin"), src)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}
	t.Logf("%s", b)
}
