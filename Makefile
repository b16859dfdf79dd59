GO      ?= go
BIN     ?= bin/aiload
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build test bench run lint fmt fuzz

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/aiload

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 12m ./...

# Benchmarks print comparable figures; see docs/benchmarks.md. One package
# at a time (-p 1): two packages' benchmarks side by side on 2 cores would
# measure each other.
bench:
	$(GO) test -p 1 -run '^$$' -bench . -benchmem -count=1 -timeout 45m ./...

run:
	$(GO) run ./cmd/aiload run scenarios/quickstart.yaml

lint:
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	@big=$$(git ls-files -z 2>/dev/null | xargs -0 -r stat -c '%s %n' 2>/dev/null | awk '$$1 > 5*1024*1024 {print $$2}'); \
	  test -z "$$big" || (echo "tracked files over 5 MB (build outputs belong in .gitignore):"; echo "$$big"; exit 1)
	$(GO) vet ./...

# Each fuzz target for FUZZTIME (default 30s). `make test` already runs every
# target's seed corpus and saved crashers (testdata/fuzz) as regression tests.
# Each new interesting input is minimized for at most FUZZMINIMIZE (go test's
# default, 60s, stalls a short run on targets whose inputs are whole files).
FUZZTIME ?= 30s
FUZZMINIMIZE ?= 1s
FUZZ_TARGETS = FuzzChatRequest:./gateway FuzzStreamRelay:./gateway FuzzBearerToken:./gateway FuzzCheckKeys:./gateway/chat \
	FuzzParseCounterKey:./gateway/policy FuzzParse:./scenario FuzzReadStream:./loadgen FuzzChatAnswer:./loadgen
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "== $${t%%:*}"; \
		$(GO) test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $${t#*:} || exit 1; \
	done
