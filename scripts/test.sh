#!/usr/bin/env bash
# Runs every test. Starts what the tests need first (PostgreSQL when it is installed but
# stopped; Chromium and the browser tests' npm packages when missing); each test makes its own
# database or SQLite file and removes it afterwards. Non-interactive: works under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

ensure_postgres() {
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    return
  fi
  echo "PostgreSQL is not answering on 127.0.0.1:5432; starting it"
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
  if [ -z "$version" ]; then
    echo "PostgreSQL is not installed (expected under /etc/postgresql); install postgresql-15" >&2
    exit 1
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || pg_ctlcluster "$version" main start
  for _ in $(seq 1 60); do
    pg_isready -h 127.0.0.1 -p 5432 -q && return
    sleep 0.5
  done
  echo "PostgreSQL did not start" >&2
  exit 1
}

# Databases left behind by an earlier run that was killed or panicked before it could drop them.
drop_stale_databases() {
  psql -h 127.0.0.1 -U postgres -d postgres -Atc \
    "select datname from pg_database where datname ~ '^salon_(test|bench|durability)_[0-9a-f]{32}$'" 2>/dev/null |
    while read -r db; do
      psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
}

# The browser tests drive Debian's Chromium through playwright-core.
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return
  echo "Chromium is missing (/usr/bin/chromium); installing the Debian package"
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo -n)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium </dev/null
}

# Radicale (a real CalDAV server) and aiosmtpd (a real SMTP sink) for the integration tests,
# openapi-spec-validator and schemathesis for the API document's tests (tests/tests/openapi.rs),
# in a virtualenv inside the repo (.venv-test, ignored by git) so nothing is installed
# system-wide.
ensure_python_tools() {
  local venv=.venv-test
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  if ! "$venv/bin/python" -c 'import radicale, aiosmtpd, openapi_spec_validator, schemathesis' 2>/dev/null; then
    "$venv/bin/pip" install -q --disable-pip-version-check 'radicale>=3.2,<4' 'aiosmtpd>=1.4,<2' \
      'openapi-spec-validator>=0.7,<1' 'schemathesis>=4.32,<5' </dev/null
  fi
  SALON_TEST_VENV="$(pwd)/$venv"
  export SALON_TEST_VENV
}

ensure_postgres
drop_stale_databases
ensure_chromium
ensure_python_tools
export SALON_TEST_PG="${SALON_TEST_PG:-postgres://postgres@127.0.0.1:5432}"
cargo test --workspace --all-targets "$@"

# The booking site in headless Chromium against target/debug/salon, built by cargo test above.
(cd browser-tests && npm ci --no-audit --no-fund --loglevel=error </dev/null && npm test </dev/null)
