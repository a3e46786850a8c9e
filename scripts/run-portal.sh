#!/usr/bin/env bash
# Run the Celery worker next to Django's development server, for `make run`.
# The worker must not outlive the server, so both run as children of this shell and the EXIT trap
# stops the worker however the server ends (Ctrl-C, kill of this script, or a crash).
# DATABASE_URL / CELERY_BROKER_URL are deliberately left alone: unset, the embedded defaults apply.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

bind=${PORTAL_BIND:-127.0.0.1:8000}
# Build steps run on the build network and reach the mirrors through its proxy and the package
# cache (scripts/ensure-services.sh sets them up; the portal finds the proxy by itself).
mkdir -p var/log
worker="" server=""

stop() {
  [ -z "$server" ] || kill -TERM "$server" 2>/dev/null || true
  [ -n "$worker" ] || return 0
  kill -TERM "$worker" 2>/dev/null || return 0
  # TERM is Celery's warm shutdown (finishes running tasks); do not hang forever on a long build.
  for _ in $(seq 50); do kill -0 "$worker" 2>/dev/null || return 0; sleep 0.2; done
  kill -QUIT "$worker" 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --beat runs the periodic reaper (stuck builds, lost queue messages) inside this one worker.
.venv/bin/celery -A portal worker -Q builds,scans,default --concurrency 2 --loglevel INFO \
  --beat --schedule var/celerybeat-schedule \
  >>var/log/worker.log 2>&1 </dev/null &
worker=$!
echo "worker    pid $worker, log var/log/worker.log"

# In the background so that `wait` (unlike a foreground child) lets the traps run at once.
.venv/bin/python manage.py runserver "$bind" --noreload &
server=$!
echo "Portal: http://$bind/"
wait "$server"
