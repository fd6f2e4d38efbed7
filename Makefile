# batchrun: build, run and test. Needs only Go (see go.mod for the version).
GO ?= go
BIN := bin/batchrun

.PHONY: run test test-short build bench vet fmt clean

# The main job on its embedded default: paper000, 4 seeds, the four
# zeroth-order modes side by side (about a minute on 2 cores).
run: build
	./$(BIN) run

build:
	$(GO) build -o $(BIN) ./cmd/batchrun

# Formatting, vet, and the whole test suite (the long statistical checks
# included; `make test-short` skips them).
test:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -timeout 20m ./...

test-short:
	$(GO) test -short ./...

# Benchmarks of the hot path (compare runs with benchstat).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./kernels/... ./algo/...

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')

clean:
	rm -rf bin
