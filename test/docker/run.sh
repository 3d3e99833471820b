#!/usr/bin/env bash
# The Docker packaging, tested for real: builds the image from the Dockerfile, brings the
# `server` service of docker-compose.yml up, waits until Docker reports it healthy, then
# checks what users rely on: pages render, downloads are byte-identical, uploads land in the
# named volume and survive a restart, metrics answer, and `stop` ends the server gracefully
# with exit code 0. Removes its containers, volume and image at the end, even on failure.
#
# test/docker/compose.test.yml adapts the run to this machine (host networking, free ports
# on 127.0.0.1); docker-compose.yml itself stays as users run it.
# Usage: npm run test:docker. Needs docker with `docker compose` or docker-compose 1.29, curl
# and node. As root it first runs ../shared/tools/docker-up.sh (or $DOCKER_UP) when that
# exists: on this project's machines it installs and starts the engine.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
DOCKER_UP=${DOCKER_UP:-$ROOT/../shared/tools/docker-up.sh}
PROJECT="rawhttptest$$"
IMAGE="rawhttp-test:$PROJECT"
VOLUME="${PROJECT}_uploads"
WORK=$(mktemp -d)
PASSED=0
FAILED=0
COMPOSE=()
BUILD_FLAGS=()
CONTAINER=""
OTHER_USER=""

say() { printf '# %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); printf 'ok     %s\n' "$1"; }
fail() {
  FAILED=$((FAILED + 1))
  printf 'FAIL   %s\n' "$1"
  if [[ -n ${2:-} ]]; then printf '       %s\n' "$2"; fi
}
# A failure that makes the remaining checks meaningless.
abort() { fail "$@"; exit 1; }
check() {  # check DESCRIPTION COMMAND...
  local description=$1; shift
  if "$@"; then pass "$description"; else fail "$description"; fi
}

# quiet COMMAND...: runs COMMAND, showing its output only when it fails.
quiet() {
  "$@" >"$WORK/quiet.log" 2>&1 && return 0
  sed 's/^/       /' "$WORK/quiet.log"
  return 1
}

compose() {
  "${COMPOSE[@]}" -p "$PROJECT" --project-directory "$ROOT" -f "$WORK/docker-compose.yml" -f test/docker/compose.test.yml "$@"
}

cleanup() {
  local status=$?
  trap - EXIT
  if ((FAILED > 0)) && [[ -n $CONTAINER ]]; then
    say "last server logs:"
    compose logs --no-color --tail 40 server 2>&1 | sed 's/^/#   /'
  fi
  [[ -n $OTHER_USER ]] && docker rm -f -v "$OTHER_USER" >/dev/null 2>&1
  if ((${#COMPOSE[@]})); then
    compose down -v --remove-orphans >"$WORK/down.log" 2>&1 || { say "compose down failed:"; cat "$WORK/down.log"; }
    docker image rm "$IMAGE" >/dev/null 2>&1
  fi
  rm -rf "$WORK"
  ((FAILED > 0 || status != 0)) && status=1
  printf '# docker test: %d passed, %d failed%s\n' "$PASSED" "$FAILED" "$( ((status)) && echo ' - FAILED' || echo ' - ok')"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- engine and tools
if [[ -x $DOCKER_UP && $(id -u) == 0 ]]; then
  say "preparing the engine: $DOCKER_UP $ROOT"
  if "$DOCKER_UP" "$ROOT" >"$WORK/docker-up.log" 2>&1; then
    say "$(tail -n 1 "$WORK/docker-up.log")"
  else
    cat "$WORK/docker-up.log"
    abort "docker-up.sh prepares the engine and accepts the project's Docker files"
  fi
fi
for tool in docker curl node; do
  command -v "$tool" >/dev/null || abort "$tool is installed"
done
docker info >/dev/null 2>&1 || abort "the Docker engine answers (docker info)"
if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null; then
  COMPOSE=(docker-compose)
  # Its legacy builder keeps the container of a failed step unless told otherwise.
  BUILD_FLAGS=(--force-rm)
else abort "docker compose or docker-compose is installed"; fi
say "using ${COMPOSE[*]}, project $PROJECT"

# Host networking publishes no ports, and docker-compose 1.29 refuses `ports:` beside
# `network_mode: host`. An override can only add list entries, not drop them, so the run
# uses docker-compose.yml with its `ports:` blocks cut out and everything else unchanged.
awk '/^    ports:/ { skip = 1; next } skip && /^      / { next } { skip = 0; print }' docker-compose.yml >"$WORK/docker-compose.yml"
if grep -q '^ *ports:' "$WORK/docker-compose.yml" || cmp -s docker-compose.yml "$WORK/docker-compose.yml"; then
  abort "the ports: blocks of docker-compose.yml can be cut out for host networking"
fi

# Two free ports on loopback: with host networking the server binds them directly.
read -r PORT ADMIN_PORT < <(node -e "
  const net = require('node:net');
  const a = net.createServer().listen(0, '127.0.0.1', () => {
    const b = net.createServer().listen(0, '127.0.0.1', () => {
      console.log(a.address().port, b.address().port); a.close(); b.close();
    });
  });")
[[ -n ${ADMIN_PORT:-} ]] || abort "two free ports on 127.0.0.1 are found"
export RAWHTTP_TEST_TAG=$PROJECT RAWHTTP_TEST_PORT=$PORT RAWHTTP_TEST_ADMIN_PORT=$ADMIN_PORT
BASE="http://127.0.0.1:$PORT"
ADMIN="http://127.0.0.1:$ADMIN_PORT"

# ---------------------------------------------------------------- helpers
# http OUTFILE URL [curl args...]: prints "STATUS CONTENT-TYPE"; the body goes to OUTFILE.
http() {
  local out=$1 url=$2 result; shift 2
  if result=$(curl -sS --noproxy '*' --max-time 30 -o "$out" -w '%{http_code} %{content_type}' "$@" "$url" 2>&1); then
    printf '%s' "$result"
  else
    printf '000 curl failed: %s' "$result"
  fi
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

health() { docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$CONTAINER" 2>/dev/null; }

# Polls Docker's own health status; the image's HEALTHCHECK decides it.
wait_healthy() {
  local deadline=$((SECONDS + 180)) status
  while ((SECONDS < deadline)); do
    status=$(health)
    case $status in
      healthy) return 0;;
      unhealthy) return 1;;
    esac
    [[ $(docker inspect --format '{{.State.Status}}' "$CONTAINER" 2>/dev/null) == exited ]] && return 1
    sleep 1
  done
  return 1
}

# count_log_lines TEXT...: how many lines of `compose logs` contain every TEXT.
count_log_lines() {
  compose logs --no-color server >"$WORK/logs" 2>&1
  TEXTS=$(printf '%s\n' "$@") awk '
    BEGIN { n = split(ENVIRON["TEXTS"], texts, "\n") }
    { for (i = 1; i <= n; i++) if (index($0, texts[i]) == 0) next; count++ }
    END { print count + 0 }' "$WORK/logs"
}

# ---------------------------------------------------------------- build and start
say "building the image (log: compose build)"
build_start=$SECONDS
compose build "${BUILD_FLAGS[@]}" server >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log"; abort "the image builds"; }
pass "the image builds ($((SECONDS - build_start)) s)"
SIZE=$(docker image inspect --format '{{.Size}}' "$IMAGE")
say "image size: $SIZE bytes ($(awk -v s="$SIZE" 'BEGIN { printf "%.1f MB", s / 1e6 }'))"
# A number, which Kubernetes' runAsNonRoot can check without runAsUser; a name it refuses.
check "the image runs as uid:gid 1000:1000, by number" test "$(docker image inspect --format '{{.Config.User}}' "$IMAGE")" = 1000:1000

compose up -d server >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; abort "compose up starts the server"; }
CONTAINER=$(compose ps -q server)
[[ -n $CONTAINER ]] || abort "compose up created the server container"
say "waiting for Docker to report the container healthy (ports $PORT, admin $ADMIN_PORT)"
wait_healthy || abort "Docker reports the server healthy" "health status: '$(health)'"
pass "Docker reports the server healthy"

# ---------------------------------------------------------------- inside the container
# The command of the Dockerfile's CMD, V8 flags included.
check "the server is PID 1: node [flags] dist/src/main.js" \
  test "$(compose exec -T server cat /proc/1/cmdline | tr '\0' ' ')" = "node --max-semi-space-size=8 --initial-old-space-size=16 --heap-growing-percent=50 dist/src/main.js "
check "the server process runs as uid 1000 (node)" \
  test "$(compose exec -T server awk '/^Uid:/ { print $2 }' /proc/1/status | tr -d '\r')" = 1000
check "uid 1000 is the base image's node user, group 1000 its group" \
  test "$(compose exec -T server sh -c 'id -un; id -gn' | tr -d '\r' | paste -sd:)" = node:node
check "the image holds no sources, tests or dev dependencies" \
  compose exec -T server sh -c 'test ! -e src && test ! -e test && test ! -e node_modules/typescript && test -f dist/src/main.js'
# The base image's package managers and C headers are removed: the server runs only node.
check "the image holds no npm, npx, corepack, yarn or node's C headers" \
  compose exec -T server sh -c 'for tool in npm npx corepack yarn yarnpkg; do ! command -v $tool >/dev/null || exit 1; done; test ! -e /usr/local/lib/node_modules/npm && test ! -e /usr/local/include/node'
check "the document root is read-only for the server" compose exec -T server sh -c '! touch resources/index.html 2>/dev/null'
# docker-compose.yml's read_only, cap_drop and security_opt, as the kernel applies them.
check "the root file system is read-only in the compose container (/app and /tmp refuse a file)" \
  compose exec -T server sh -c '! touch /app/x 2>/dev/null && ! touch /tmp/x 2>/dev/null'
check "the server has no capabilities, not even in its bounding set, and no_new_privs" \
  compose exec -T server sh -c 'grep -Eq "^CapBnd:[[:space:]]+0+$" /proc/1/status && grep -Eq "^NoNewPrivs:[[:space:]]+1$" /proc/1/status'
check "the public port is shared by 256 listening sockets (SO_REUSEPORT)" \
  test "$(count_log_lines '"listenSockets":256' 'listening on')" -eq 1
check "the uploads volume starts empty" test "$(compose exec -T server sh -c 'ls -A resources/uploads; echo end' | tr -d '\r')" = end

# ---------------------------------------------------------------- public listener
result=$(http "$WORK/index" "$BASE/")
if [[ $result == "200 text/html"* ]] && cmp -s "$WORK/index" resources/index.html; then pass "GET / renders index.html (200 text/html)"
else fail "GET / renders index.html (200 text/html)" "got: $result"; fi

for file in sample_image.png sample.txt; do
  result=$(http "$WORK/download" "$BASE/$file")
  if [[ $result == 200* && $(sha "$WORK/download") == "$(sha "resources/$file")" ]]; then pass "GET /$file is byte-identical (sha256)"
  else fail "GET /$file is byte-identical (sha256)" "got: $result"; fi
done

result=$(http "$WORK/forbidden" "$BASE/" -H 'Host: evil.example')
check "a Host outside ALLOWED_HOSTS gets 403" test "${result%% *}" = 403

result=$(http "$WORK/upload.json" "$BASE/upload" -X POST -H 'Content-Type: application/json' --data-binary @data.json)
UPLOAD=$(node -e 'try { console.log(JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")).filepath ?? "") } catch { console.log("") }' "$WORK/upload.json")
if [[ $result == 201* && $UPLOAD == /uploads/upload_*.json ]]; then pass "POST /upload stores data.json (201, $UPLOAD)"
else abort "POST /upload stores data.json (201)" "got: $result $(head -c 300 "$WORK/upload.json")"; fi

mounted=$(docker inspect --format '{{range .Mounts}}{{if eq .Destination "/app/resources/uploads"}}{{.Type}} {{.Name}}{{end}}{{end}}' "$CONTAINER")
check "the uploads folder is the named volume $VOLUME" test "$mounted" = "volume $VOLUME"
# Read the file straight from the volume, through a throwaway container without the server.
in_volume=$(docker run --rm --network none -v "$VOLUME:/uploads:ro" --entrypoint sha256sum "$IMAGE" "/uploads/${UPLOAD#/uploads/}" | cut -d' ' -f1)
check "the upload is in the volume, byte for byte" test "$in_volume" = "$(sha data.json)"

result=$(http "$WORK/uploaded" "$BASE$UPLOAD")
check "the upload downloads byte-identical" test "${result%% *} $(sha "$WORK/uploaded")" = "200 $(sha data.json)"

# ---------------------------------------------------------------- restart
started=$(docker inspect --format '{{.State.StartedAt}}' "$CONTAINER")
compose restart server >"$WORK/restart.log" 2>&1 || { cat "$WORK/restart.log"; abort "compose restart restarts the server"; }
check "compose restart started the server anew" test "$(docker inspect --format '{{.State.StartedAt}}' "$CONTAINER")" != "$started"
wait_healthy || abort "Docker reports the server healthy after the restart" "health status: '$(health)'"
pass "Docker reports the server healthy after the restart"
result=$(http "$WORK/uploaded" "$BASE$UPLOAD")
check "the upload survives the restart (byte-identical)" test "${result%% *} $(sha "$WORK/uploaded")" = "200 $(sha data.json)"

# ---------------------------------------------------------------- admin listener
result=$(http "$WORK/healthz" "$ADMIN/healthz")
check "admin /healthz answers 200 JSON" test "$result" = "200 application/json"
result=$(http "$WORK/metrics" "$ADMIN/metrics")
if [[ $result == "200 text/plain"* ]] && grep -q '^http_server_requests_total{' "$WORK/metrics" && grep -Eq '^http_server_workers [1-9]' "$WORK/metrics"; then
  pass "admin /metrics answers with the server's metrics"
else
  fail "admin /metrics answers with the server's metrics" "got: $result"
fi
# The monitoring profile's image cannot be pulled here; Prometheus's own tool checks its parts.
if command -v promtool >/dev/null; then
  lint_metrics() { promtool check metrics <"$WORK/metrics"; }
  check "promtool accepts deploy/prometheus/prometheus.yml and its rules" quiet promtool check config deploy/prometheus/prometheus.yml
  check "promtool accepts the /metrics exposition" quiet lint_metrics
else
  say "skip: promtool not installed, deploy/prometheus/prometheus.yml and the exposition not checked"
fi

# ---------------------------------------------------------------- graceful stop
sigterms_before=$(count_log_lines '"signal":"SIGTERM"' '"msg":"shutdown: ')
completed_before=$(count_log_lines '"msg":"shutdown complete"')
compose stop server >"$WORK/stop.log" 2>&1 || { cat "$WORK/stop.log"; abort "compose stop stops the server"; }
state=$(docker inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$CONTAINER")
check "compose stop ends the container with exit code 0" test "$state" = "exited 0"
check "compose logs show the server's SIGTERM shutdown lines" \
  test "$(count_log_lines '"signal":"SIGTERM"' '"msg":"shutdown: ')" -eq $((sigterms_before + 1))
check "compose logs show the shutdown completed" \
  test "$(count_log_lines '"msg":"shutdown complete"')" -eq $((completed_before + 1))
check "no connection had to be cut at the shutdown timeout" test "$(count_log_lines 'shutdown: timeout reached')" -eq 0

# ---------------------------------------------------------------- an arbitrary uid in group 0
# OpenShift runs a container as a uid of the project's range whose group is 0, not as `node`.
# The image's uploads folder belongs to group 0 and is group-writable, which a fresh volume
# copies: the server must start and store an upload there. The compose server has stopped, so
# its ports are free again.
wait_ready() {  # wait_ready CONTAINER: until the admin port's /readyz answers 200
  local deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    [[ $(http /dev/null "$ADMIN/readyz") == 200* ]] && return 0
    [[ $(docker inspect --format '{{.State.Status}}' "$1" 2>/dev/null) == running ]] || return 1
    sleep 0.5
  done
  return 1
}
if OTHER_USER=$(docker run -d --network host --user 1000680000:0 -v /app/resources/uploads \
    -e HOST=127.0.0.1 -e PORT="$PORT" -e ADMIN_HOST=127.0.0.1 -e ADMIN_PORT="$ADMIN_PORT" \
    -e ALLOWED_HOSTS="127.0.0.1:$PORT" "$IMAGE" 2>"$WORK/other-user.log") && wait_ready "$OTHER_USER"; then
  pass "the image runs as uid 1000680000 with group 0 (docker run --user, a fresh volume)"
  result=$(http "$WORK/upload-other.json" "$BASE/upload" -X POST -H 'Content-Type: application/json' --data-binary @data.json)
  check "as uid 1000680000, POST /upload stores data.json (201)" test "${result%% *}" = 201
else
  fail "the image runs as uid 1000680000 with group 0 (docker run --user, a fresh volume)" \
    "$(cat "$WORK/other-user.log"; [[ -n $OTHER_USER ]] && docker logs "$OTHER_USER" 2>&1 | tail -n 5)"
fi
docker rm -f -v "$OTHER_USER" >/dev/null 2>&1 && OTHER_USER=""
