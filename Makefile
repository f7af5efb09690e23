# The Temporal CLI carries the dev server and the Web UI. It is built once from the Go
# module proxy into a git-ignored folder; the version in the path makes a bump rebuild.
TEMPORAL_CLI_VERSION ?= v1.5.1
TEMPORAL_DIR := $(CURDIR)/.tools/temporal-$(TEMPORAL_CLI_VERSION)
TEMPORAL     := $(TEMPORAL_DIR)/temporal

.PHONY: run test build vet fmt bench drill fuzz

## run: the whole service on this machine: dev server + Web UI, worker, API, sandbox.
run: $(TEMPORAL)
	TEMPORAL=$(TEMPORAL) ./scripts/run.sh

## test: unit, workflow and integration tests (integration tests start their own server).
test: $(TEMPORAL)
	TEMPORAL_CLI=$(TEMPORAL) go test -count=1 ./...

build:
	go build -o bin/ ./worker ./starter

# The Temporal server itself and its SQL schema tool, at the dev server's version, for
# make bench BENCH_ENGINES=dev,postgres; outside go.mod, like the CLI.
TEMPORAL_SERVER_VERSION ?= v1.29.1
SERVER_DIR := $(CURDIR)/.tools/temporal-server-$(TEMPORAL_SERVER_VERSION)
SERVER_SCHEMA = $(shell go env GOMODCACHE)/go.temporal.io/server@$(TEMPORAL_SERVER_VERSION)/schema/postgresql/v12
BENCH_ENGINES ?= dev
BENCH_TOOLS := $(if $(findstring postgres,$(BENCH_ENGINES)),$(SERVER_DIR)/server $(SERVER_DIR)/sql)

## bench: the load benchmark on the embedded stack (about 6 minutes); with
## BENCH_ENGINES=dev,postgres also on the Temporal server on PostgreSQL; see README.
bench: $(TEMPORAL) build $(BENCH_TOOLS)
	go run ./scripts/bench -temporal $(TEMPORAL) -bin bin -engines $(BENCH_ENGINES) \
		-pg-server $(SERVER_DIR)/server -pg-sql-tool $(SERVER_DIR)/sql \
		-pg-schema $(SERVER_SCHEMA) $(BENCH_FLAGS)

# About 4 minutes with the module cache warm from the CLI's build.
$(SERVER_DIR)/server:
	GOBIN=$(SERVER_DIR) go install -ldflags='-s -w' \
		go.temporal.io/server/cmd/server@$(TEMPORAL_SERVER_VERSION)

$(SERVER_DIR)/sql:
	GOBIN=$(SERVER_DIR) go install -ldflags='-s -w' \
		go.temporal.io/server/cmd/tools/sql@$(TEMPORAL_SERVER_VERSION)

## drill: crash and fault drill (about 2 minutes); CI runs a short form.
drill: $(TEMPORAL) build
	go run ./scripts/drill -temporal $(TEMPORAL) -bin bin $(DRILL_FLAGS)

# Fuzz targets as package:target; each runs for FUZZTIME.
FUZZTIME ?= 10s
FUZZ_TARGETS := ./internal/session:FuzzParse \
	./internal/phi:FuzzMaskEmail ./internal/phi:FuzzMaskName ./internal/phi:FuzzMaskPhone \
	./internal/phi:FuzzMaskDigitRuns ./internal/phi:FuzzMaskText ./internal/phi:FuzzRedactURL \
	./internal/api:FuzzZoomWebhook ./internal/codec:FuzzRoundTrip ./internal/codec:FuzzDecode

## fuzz: every fuzz target for FUZZTIME each, on its seed corpus in testdata/ first.
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh $(FUZZ_TARGETS)

vet:
	go vet ./...

fmt:
	gofmt -l -w .

# About 6 minutes and 2 GB of memory the first time; seconds after that.
$(TEMPORAL):
	@echo "building the Temporal CLI $(TEMPORAL_CLI_VERSION) (first time only, several minutes)"
	GOBIN=$(TEMPORAL_DIR) go install -ldflags='-s -w' \
		github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)
