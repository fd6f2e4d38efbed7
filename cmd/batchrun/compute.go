package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/batchrun/batchrun/algo/zo"
	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/kernels"
	"github.com/batchrun/batchrun/kernels/cuda"
)

// BackendVariable names the environment variable that sets --backend's
// default.
const BackendVariable = "BATCHRUN_BACKEND"

// Backends lists the values of --backend.
var Backends = []string{"auto", "cpu", "cuda"}

// computeFlags are the flags that pick what a run computes on.
type computeFlags struct {
	kernels, backend *string
	device           *int
}

func addComputeFlags(fs *flag.FlagSet) *computeFlags {
	return &computeFlags{
		kernels: kernelsFlag(fs),
		backend: fs.String("backend", "", "where the zeroth-order zo modes run: auto (a GPU when libcuda.so.1 loads and a device exists, else the CPU), cpu, or cuda (a GPU or exit 2); default $"+BackendVariable+", else auto. Other modes and families run on the CPU"),
		device:  fs.Int("device", 0, "CUDA device ordinal for --backend cuda or auto"),
	}
}

// compute is what a run computes on: the CPU kernels, and a GPU when one
// is used.
type compute struct {
	cpu kernels.Backend
	gpu cuda.Device // nil: none
	// fallback says, under --backend auto, why no GPU is used.
	fallback string
}

// name names the backends, for the manifest and the log.
func (c compute) name() string {
	if c.gpu != nil {
		return c.gpu.Name() + " + " + c.cpu.Name()
	}
	return c.cpu.Name()
}

// close releases the GPU. An error there (a kernel fault the driver
// reports late) comes after the results are committed: it is logged.
func (c compute) close() {
	if c.gpu != nil {
		if err := c.gpu.Close(); err != nil {
			slog.Warn("batchrun: closing the GPU", "err", err)
		}
	}
}

// cpuOnly resolves --kernels alone: what commands that plan but do not
// compute use, and the CPU part of every run.
func (cf *computeFlags) cpuOnly() (compute, error) {
	be, err := backend(*cf.kernels)
	if err != nil {
		return compute{}, err
	}
	return compute{cpu: be}, nil
}

// backendName returns --backend, else $BATCHRUN_BACKEND, else auto, and
// where it came from.
func (cf *computeFlags) backendName() (name, from string, err error) {
	name, from = *cf.backend, "--backend"
	if name == "" {
		name, from = os.Getenv(BackendVariable), "$"+BackendVariable
	}
	if name == "" {
		name = "auto"
	}
	for _, b := range Backends {
		if name == b {
			return name, from, nil
		}
	}
	return "", "", usagef("%s %q: allowed: %s", from, name, strings.Join(Backends, ", "))
}

// check validates the flags without opening anything.
func (cf *computeFlags) check() error {
	if _, _, err := cf.backendName(); err != nil {
		return err
	}
	if *cf.device < 0 {
		return usagef("--device %d: want a CUDA device ordinal >= 0", *cf.device)
	}
	return nil
}

// withGPU adds to c, the flags' cpuOnly compute (checked with check), the
// GPU --backend asks for. --backend cuda without a usable GPU is a usage
// error (exit 2); auto then runs on the CPU and says why in c.fallback.
func (cf *computeFlags) withGPU(c compute) (compute, error) {
	name, from, err := cf.backendName()
	if err != nil {
		return compute{}, err
	}
	if name == "cpu" {
		return c, nil
	}
	gpu, err := openGPU(*cf.device)
	if err != nil {
		if name == "cuda" {
			return compute{}, usagef("%s cuda: %v (--backend cpu or auto runs on the CPU)", from, err)
		}
		c.fallback = fmt.Sprintf("batchrun: no GPU (%v); the zo modes run on the CPU (%s)", err, c.cpu.Name())
		return c, nil
	}
	c.gpu = gpu
	return c, nil
}

// openGPU loads the CUDA driver and opens device ordinal with the zo
// kernels.
func openGPU(ordinal int) (*cuda.GPU, error) {
	d, err := cuda.Load()
	if err != nil {
		return nil, err
	}
	return d.Open(ordinal, cuda.PTX())
}

// families returns the experiment families computing on c.
func (c compute) families() batch.Families {
	fams := families(c.cpu)
	fams["zo"] = zo.Family{Backend: c.cpu, GPU: c.gpu}
	return fams
}
