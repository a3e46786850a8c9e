#!/usr/bin/env bash
# Run the portal for `make run`: web (gunicorn), the Celery worker and Celery beat under supervisord
# (deploy/supervisord.conf), which restarts whichever dies. supervisord is this script's child: Ctrl-C
# or a TERM of this script stops it, and it stops every program (and their children) before it exits.
# Rerunning is safe: a supervisord of this checkout still running (var/supervisord.pid) is stopped
# first, and a port taken by anything else is named instead of failing half-way.
# DATABASE_URL / CELERY_BROKER_URL are deliberately left alone: unset, the embedded defaults apply.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$root"

export PORTAL_ROOT=$root
export PORTAL_RUN_DIR=${PORTAL_RUN_DIR:-$root/var}
export PORTAL_BIND=${PORTAL_BIND:-127.0.0.1:8000}
export PORTAL_PYTHON=${PORTAL_PYTHON:-$root/.venv/bin}
export PORTAL_WORKER_NAME=${PORTAL_WORKER_NAME:-worker@%h}
export PORTAL_WORKER_QUEUES=${PORTAL_WORKER_QUEUES:-builds,scans}
export PORTAL_HOUSEKEEPING_NAME=${PORTAL_HOUSEKEEPING_NAME:-housekeeping@%h}
export PORTAL_HOUSEKEEPING_QUEUES=${PORTAL_HOUSEKEEPING_QUEUES:-default}
export PORTAL_WORKER_CONCURRENCY=${PORTAL_WORKER_CONCURRENCY:-2}
export PORTAL_WEB_WORKERS=${PORTAL_WEB_WORKERS:-2}
config=$root/deploy/supervisord.conf
pidfile=$PORTAL_RUN_DIR/supervisord.pid
mkdir -p "$PORTAL_RUN_DIR/log"

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# A supervisord left by an earlier run of this checkout (its terminal closed, the script killed -9):
# stop it and everything it runs, so nothing of the old run keeps the port or takes builds.
previous=$(cat "$pidfile" 2>/dev/null || true)
if alive "$previous" && tr '\0' ' ' <"/proc/$previous/cmdline" 2>/dev/null | grep -qF "supervisord -c $config"; then
  echo "supervisor: stopping the previous run of this checkout (supervisord pid $previous)"
  kill -TERM "$previous"
  for _ in $(seq 600); do alive "$previous" || break; sleep 0.1; done
  if alive "$previous"; then echo "supervisor: pid $previous did not stop within 60 s; stop it by hand" >&2; exit 1; fi
fi

port=${PORTAL_BIND##*:}
host=${PORTAL_BIND%:*}
if (exec 3<>"/dev/tcp/${host:-127.0.0.1}/$port") 2>/dev/null; then
  owner=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'users:(.*)' | head -1 || true)
  echo "Port $port is taken by another program${owner:+ ($owner)}: stop it, or run with PORTAL_BIND=127.0.0.1:<free port>." >&2
  exit 1
fi

# gunicorn serves no static files: WhiteNoise does, from STATIC_ROOT (and the app folders, WHITENOISE_USE_FINDERS).
"$PORTAL_PYTHON/python" manage.py collectstatic --noinput -v 0
# django-prometheus' per-process files: a new run starts from zero.
rm -rf "$PORTAL_RUN_DIR/prometheus" && mkdir -p "$PORTAL_RUN_DIR/prometheus"

supervisord=""
stop() {
  trap - EXIT INT TERM
  alive "$supervisord" || return 0
  kill -TERM "$supervisord" 2>/dev/null || true
  # supervisord waits for each program's stopwaitsecs, then kills its process group.
  wait "$supervisord" 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$PORTAL_PYTHON/supervisord" -c "$config" &
supervisord=$!
echo "supervisor: supervisord pid $supervisord; logs in $PORTAL_RUN_DIR/log/ (web.log, worker.log, housekeeping.log, beat.log)"
echo "supervisor: status with $PORTAL_PYTHON/supervisorctl -c $config status (PORTAL_RUN_DIR=$PORTAL_RUN_DIR)"
for _ in $(seq 300); do
  if (exec 3<>"/dev/tcp/${host:-127.0.0.1}/$port") 2>/dev/null; then
    echo "Portal: http://$PORTAL_BIND/   (health: /healthz, /readyz; metrics: /metrics from this machine)"
    break
  fi
  alive "$supervisord" || break
  sleep 0.2
done
# In the background so that `wait` (unlike a foreground child) lets the traps run at once.
wait "$supervisord"
