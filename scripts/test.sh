#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, types, then every test on SQLite and on the
# local PostgreSQL server (browser tests in Debian's chromium, API fuzzing with schemathesis).
# Called by `./run test` after the project is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

export FANGKONG_TEST_PG_URL="${FANGKONG_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
PG_URL="$FANGKONG_TEST_PG_URL"

system_packages() {
  # Debian's chromium for the browser tests; a CJK font so pages and PDFs show Chinese.
  local want=()
  command -v chromium >/dev/null 2>&1 || want+=(chromium)
  local fonts
  fonts="$(fc-list 2>/dev/null || true)"
  grep -qiE "noto sans cjk|wenquanyi" <<<"$fonts" || want+=(fonts-noto-cjk)
  if [ ${#want[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "== installing ${want[*]} (Debian packages)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${want[@]}" >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${want[@]}" >/dev/null; }
    else
      echo "missing Debian packages: ${want[*]} (install them as root: apt-get install ${want[*]})" >&2
      exit 1
    fi
  fi
}

postgres_up() {
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    echo "== starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
    for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
}

system_packages
postgres_up

echo "== ruff"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
echo "== mypy"
.venv/bin/mypy
echo "== tests on SQLite"
.venv/bin/pytest -q -p no:cacheprovider "$@"
echo "== tests on PostgreSQL ($PG_URL)"
FANGKONG_TEST_DATABASE_URL="$PG_URL" .venv/bin/pytest -q -p no:cacheprovider "$@"
echo "== all green"
