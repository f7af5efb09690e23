#!/usr/bin/env bash
# Runs the whole service locally: the Temporal dev server (file database, Web UI), the
# worker (with the local Zoom sandbox) and the HTTP API. Ctrl-C stops all of them.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${TEMPORAL:?set TEMPORAL to the temporal CLI (make run does)}"
umask 077 # the data folder holds PHI: this user's only
export DATA_DIR="${DATA_DIR:-$PWD/.data}"
export BIND_ADDR="${BIND_ADDR:-127.0.0.1}"
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-127.0.0.1:7233}"
mkdir -p "$DATA_DIR" bin && chmod 700 "$DATA_DIR"
# The local sandbox signs its webhook events with this run's own secret.
if [[ "${VIDEO_PLATFORM:-sandbox}" == sandbox && -z "${ZOOM_WEBHOOK_SECRET_TOKEN:-}" ]]; then
	ZOOM_WEBHOOK_SECRET_TOKEN="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
	export ZOOM_WEBHOOK_SECRET_TOKEN
fi

pids=()
stop() {
	trap - INT TERM EXIT
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap stop INT TERM EXIT

healthy() { "$TEMPORAL" operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; }

if healthy; then
	echo "using the Temporal server already at $TEMPORAL_ADDRESS"
else
	"$TEMPORAL" server start-dev \
		--ip 127.0.0.1 --port "${TEMPORAL_ADDRESS##*:}" --ui-port 8233 \
		--ui-codec-endpoint "http://127.0.0.1:${PORT:-8080}/codec" \
		--db-filename "$DATA_DIR/temporal.db" \
		--sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal \
		--dynamic-config-value system.enableActivityEagerExecution=true \
		--dynamic-config-value matching.numTaskqueueReadPartitions=1 \
		--dynamic-config-value matching.numTaskqueueWritePartitions=1 \
		--log-level warn >"$DATA_DIR/temporal.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 1 150); do
		healthy && break
		kill -0 "${pids[0]}" 2>/dev/null || { tail -5 "$DATA_DIR/temporal.log"; exit 1; }
		sleep 0.2
	done
	healthy || { echo "Temporal did not become healthy"; exit 1; }
fi

go build -o bin/ ./worker ./starter
bin/worker &
pids+=($!)
bin/starter &
pids+=($!)

cat <<MSG

  Temporal Web UI   http://127.0.0.1:8233 (decoded through the codec server)
  Codec endpoint    http://127.0.0.1:${PORT:-8080}/codec
  API               http://127.0.0.1:${PORT:-8080}/webhook/telehealth-session
  Session log       $DATA_DIR/sessions.csv
  Outbox            $DATA_DIR/outbox.jsonl
  Play a visit      curl -X POST http://127.0.0.1:9090/sandbox/meetings/<meeting_id>/start
                    (then wait, admit, leave, end)
  Ctrl-C stops everything.

MSG
wait -n "${pids[@]}"
