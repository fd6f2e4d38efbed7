# batchrun: build, run and test. Needs only Go (see go.mod for the version).
GO ?= go
BIN := bin/batchrun

.PHONY: run test test-go test-slurm test-short build bench generate vet fmt clean

# The main job on its embedded default: paper000, every mode and fixed
# policy side by side, 4 replicates (about 15 s on 2 cores, most of it the
# first-order references; a second `make run` resumes: it finds every cell
# done and only reports).
run: build
	./$(BIN) run

build:
	$(GO) build -o $(BIN) ./cmd/batchrun

# Formatting, vet, the whole Go test suite (the long statistical checks
# included; `make test-short` skips them) with the kernels cpuid selects and
# again with the generic ones, then the Slurm test. The Slurm
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
	$(GO) generate ./kernels/...

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')

clean:
	rm -rf bin
