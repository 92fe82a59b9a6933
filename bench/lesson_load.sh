#!/usr/bin/env bash
# Lesson page under load: p50/p95 latency with 20 concurrent clients (wrk) against a
# real uvicorn server, logged in as an employee, on the built-in course's lesson 2
# (math, code, try-it cards). Uses its own database under var/bench unless
# DATABASE_URL is set (then that database gets the course and a bench user).
#   bin: apt-get install -y wrk
#   usage: bench/lesson_load.sh [duration, default 20s] [connections, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-20s}
CONNECTIONS=${2:-20}
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 1; }

export LLM_VAR_DIR=${LLM_VAR_DIR:-$PWD/var/bench}
export LLM_EMBEDDED_WORKER=0  # the lesson page needs no model; keep the CPU for the web server
export DJANGO_SETTINGS_MODULE=config.settings.base
PY=.venv/bin/python

$PY manage.py migrate -v0
SESSION=$($PY manage.py shell -v0 -c '
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.auth import SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY
from accounts.models import Role
from accounts.services import user_create_or_update
from courseapp.services import course_seed_builtin, lesson_complete
course = course_seed_builtin(log=lambda *_: None)
user = user_create_or_update(username="bench-learner", name="Bench Learner", role=Role.EMPLOYEE, password=None)
lesson_complete(user=user, lesson=course.lessons.get(slug="01-why-llms"))
s = SessionStore()
s[SESSION_KEY], s[BACKEND_SESSION_KEY], s[HASH_SESSION_KEY] = str(user.pk), "django.contrib.auth.backends.ModelBackend", user.get_session_auth_hash()
s.create()
print(s.session_key)')

PORT=${PORT:-$($PY -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")}
URL="http://127.0.0.1:$PORT/learn/how-llms-work/lessons/02-transformer-attention/"
$PY -m uvicorn config.asgi:application --port "$PORT" --log-level warning --no-access-log &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 60); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: sessionid=$SESSION" "$URL" || true)
  [ "$code" = 200 ] && break
  sleep 0.5
done
[ "$code" = 200 ] || { echo "lesson page answered $code" >&2; exit 1; }
bytes=$(curl -s -H "Cookie: sessionid=$SESSION" "$URL" | wc -c)
echo "database: $($PY -c 'import django,os;os.environ.setdefault("DJANGO_SETTINGS_MODULE","config.settings.base");django.setup();from django.db import connection;print(connection.vendor)'), page: $bytes bytes, $(nproc) CPU cores"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --timeout 10s -H "Cookie: sessionid=$SESSION" -s bench/lesson_load.lua "$URL"
