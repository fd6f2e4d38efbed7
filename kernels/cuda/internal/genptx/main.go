// Command genptx compiles the zo kernels' CUDA C sources to PTX with nvcc
// and writes kernels/cuda/zo.ptx, its first line naming the hash of the
// sources (cuda.SourceHash), which a test compares with the sources. Run it
// with `go generate ./kernels/cuda` (or `make ptx`) from the repository.
//
// The PTX targets compute_70 (Volta and later); the CUDA driver compiles it
// for the GPU it finds when the module is loaded.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/batchrun/batchrun/kernels/cuda"
)

// Arch is the virtual architecture of the PTX.
const Arch = "compute_70"

func main() {
	log.SetFlags(0)
	log.SetPrefix("genptx: ")
	dst := flag.String("o", "zo.ptx", "output file")
	flag.Parse()
	nvcc, err := exec.LookPath("nvcc")
	if err != nil {
		log.Fatalf("nvcc not found: install the CUDA toolkit (Debian: nvidia-cuda-toolkit) to regenerate zo.ptx")
	}
	tmp, err := os.MkdirTemp("", "genptx")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	src, err := cuda.WriteSources(tmp)
	if err != nil {
		log.Fatal(err)
	}
	out := filepath.Join(tmp, "zo.ptx")
	cmd := exec.Command(nvcc, "-ptx", "-arch="+Arch, "-o", out, src)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("%s: %v", cmd, err)
	}
	ptx, err := os.ReadFile(out)
	if err != nil {
		log.Fatal(err)
	}
	// nvcc names the temporary source path in a comment: drop it, so the
	// output does not depend on where it was generated.
	ptx = bytes.ReplaceAll(ptx, []byte(tmp+string(filepath.Separator)), nil)
	var b bytes.Buffer
	fmt.Fprintln(&b, cuda.PTXHeader(cuda.SourceHash()))
	b.Write(ptx)
	if err := os.WriteFile(*dst, b.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "genptx: wrote %s (%d bytes) with %s\n", *dst, b.Len(), nvcc)
}
