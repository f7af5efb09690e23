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

## drill: crash and fault drill (about 75 s); CI runs a short form.
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

# The Docker Compose CLI, built from its Go module into .tools/ like the Temporal CLI
# (outside go.mod), so that compose itself checks the compose file on a machine with
# no compose plugin. go install refuses the module (its go.mod has exclude
# directives), so it is built inside a copy of its own module, with the versions its
# go.mod and go.sum pin. About 5 minutes and 500 MB of memory the first time.
COMPOSE_VERSION ?= v5.6.0
COMPOSE_MODULE := github.com/docker/compose/v5
COMPOSE_DIR := $(CURDIR)/.tools/compose-$(COMPOSE_VERSION)
COMPOSE     := $(COMPOSE_DIR)/docker-compose
COMPOSE_LDFLAGS := -s -w -X $(COMPOSE_MODULE)/internal.Version=$(COMPOSE_VERSION)

.PHONY: compose-check

## compose-check: validate docker-compose.yml, with .env.example, by compose itself.
compose-check: $(COMPOSE)
	$(COMPOSE) --env-file .env.example -f docker-compose.yml config --quiet
	@echo "docker-compose.yml: valid for docker compose $(COMPOSE_VERSION)"

$(COMPOSE):
	@echo "building docker compose $(COMPOSE_VERSION) (first time only, several minutes)"
	go mod download $(COMPOSE_MODULE)@$(COMPOSE_VERSION)
	rm -rf $(COMPOSE_DIR)/src
	mkdir -p $(COMPOSE_DIR)
	cp -R $(shell go env GOMODCACHE)/$(COMPOSE_MODULE)@$(COMPOSE_VERSION) $(COMPOSE_DIR)/src
	chmod -R u+w $(COMPOSE_DIR)/src
	cd $(COMPOSE_DIR)/src && go build -trimpath -ldflags='$(COMPOSE_LDFLAGS)' -o $@ ./cmd
	rm -rf $(COMPOSE_DIR)/src

vet:
	go vet ./...

fmt:
	gofmt -l -w .

# About 6 minutes and 2 GB of memory the first time; seconds after that.
$(TEMPORAL):
	@echo "building the Temporal CLI $(TEMPORAL_CLI_VERSION) (first time only, several minutes)"
	GOBIN=$(TEMPORAL_DIR) go install -ldflags='-s -w' \
		github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)
