#!/usr/bin/env bash
# The README's test command as a newcomer with nothing but Node meets it: no PostgreSQL, no Redis,
# no redis-server binary, no Chromium. Every service suite must skip loudly and `npm test` must
# still pass. The real services of this machine are left alone: the suite is pointed at a closed
# port and at binaries that do not exist. CI runs this after the real run, so the skip path
# cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."
unset REQUIRE_SERVICES
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:1/test \
TEST_REDIS_URL=redis://127.0.0.1:1/0 \
TEST_REDIS_CLUSTER_NODES=127.0.0.1:1 \
BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:1/test \
REDIS_SERVER_BIN=/nonexistent/redis-server \
CHROMIUM_PATH=/nonexistent/chromium \
  npm test 2>&1 | tee "$log" || status=$?
skipped=$(grep -c '\*\*\* SKIPPED' "$log" || true)
echo "== without services: npm test exit ${status}, ${skipped} loud skip notices"
if [ "$status" -ne 0 ]; then exit "$status"; fi
if [ "$skipped" -eq 0 ]; then
  echo "no suite said it was skipped: the services were not really out of reach" >&2
  exit 1
fi
