GO      ?= go
BIN     ?= bin/aiload
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build test bench run lint fmt

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/aiload

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 12m ./...

# Benchmarks print comparable figures; see docs/benchmarks.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 30m ./...

run:
	$(GO) run ./cmd/aiload run scenarios/quickstart.yaml

lint:
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet ./...
