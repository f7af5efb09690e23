# The Temporal CLI carries the dev server and the Web UI. It is built once from the Go
# module proxy into a git-ignored folder; the version in the path makes a bump rebuild.
TEMPORAL_CLI_VERSION ?= v1.5.1
TEMPORAL_DIR := $(CURDIR)/.tools/temporal-$(TEMPORAL_CLI_VERSION)
TEMPORAL     := $(TEMPORAL_DIR)/temporal

.PHONY: run test build vet fmt

## run: the whole service on this machine: dev server + Web UI, worker, API, sandbox.
run: $(TEMPORAL)
	TEMPORAL=$(TEMPORAL) ./scripts/run.sh

## test: unit, workflow and integration tests (integration tests start their own server).
test: $(TEMPORAL)
	TEMPORAL_CLI=$(TEMPORAL) go test -count=1 ./...

build:
	go build -o bin/ ./worker ./starter

vet:
	go vet ./...

fmt:
	gofmt -l -w .

# About 6 minutes and 2 GB of memory the first time; seconds after that.
$(TEMPORAL):
	@echo "building the Temporal CLI $(TEMPORAL_CLI_VERSION) (first time only, several minutes)"
	GOBIN=$(TEMPORAL_DIR) go install -ldflags='-s -w' \
		github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)
