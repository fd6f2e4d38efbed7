# batchrun: build, run and test. Needs only Go (see go.mod for the version).
GO ?= go
BIN := bin/batchrun

.PHONY: run test test-go test-slurm test-short build build-static bench generate ptx vet fmt clean

# The main job on its embedded default: paper000, every mode and fixed
# policy side by side, 4 replicates (about 15 s on 2 cores, most of it the
# first-order references; a second `make run` resumes: it finds every cell
# done and only reports).
run: build
	./$(BIN) run

build:
	$(GO) build -o $(BIN) ./cmd/batchrun

# The binary to carry to GPU machines and clusters: no cgo, linked only
# against the C library; the CUDA driver is loaded at run time.
build-static:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -o bin/batchrun-linux-amd64 ./cmd/batchrun

# Formatting, vet, the whole Go test suite (the long statistical checks
# included; `make test-short` skips them) with the kernels cpuid selects and
# again with the generic ones, then the Slurm test. The CUDA kernels are
# tested on a host emulator built with g++ (scripts/ensure-cxx.sh installs
# it when run as root and it is missing). The Slurm
# test needs root (it installs Debian's slurm-wlm and munge if missing and
# starts a private one-host cluster); without root it is skipped with a
# note, except under CI (CI=true), where it must run.
test: test-go
	@if [ "$$(id -u)" = 0 ] || [ "$${CI:-}" = true ]; then \
		$(MAKE) --no-print-directory test-slurm; \
	else \
		echo "make test: skipping the Slurm test (needs root: sudo make test-slurm)"; \
	fi

test-go:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	@bash scripts/ensure-cxx.sh
	$(GO) test -timeout 20m ./...
	@echo "again with the generic (pure-Go) kernels:"
	BATCHRUN_KERNELS=generic $(GO) test -timeout 20m ./...

# A real Slurm: a 4-task array job with --shard auto, merged, compared
# byte for byte with a single-process run (scripts/test-slurm.sh).
test-slurm:
	bash scripts/test-slurm.sh

test-short:
	$(GO) test -short ./...

# Benchmarks of the hot path (compare runs with benchstat).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./kernels/... ./algo/... ./batch/...

# Regenerate the SIMD assembly from its avo programs (kernels/asmgen).
generate:
	$(GO) generate ./kernels/cpu ./kernels/philox ./kernels/peak

# Regenerate the CUDA kernels' PTX (kernels/cuda/zo.ptx) from their CUDA C
# sources; needs nvcc (Debian: nvidia-cuda-toolkit in non-free). A test
# fails when the committed PTX is older than the sources.
ptx:
	$(GO) generate ./kernels/cuda

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')

clean:
	rm -rf bin
