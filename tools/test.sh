#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests
# need (Mosquitto for the broker tests, Chromium + ChromeDriver for the
# dashboard test, PostgreSQL for the PostgreSQL store's), then checks formatting and lints and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
# The Colorlight test: a network namespace, a veth pair, a raw capture.
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing+=(iproute2)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# The alarm tests' SMTP server (aiosmtpd) and their self-signed certificate.
python3 -c 'import aiosmtpd' 2>/dev/null || /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || missing+=(python3-aiosmtpd)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# The PostgreSQL store's tests start their own cluster (initdb, postgres,
# psql; as the postgres user through setpriv when run as root).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin"

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
# The documentation (private items too: this is an application, read by
# its maintainers) builds without a broken link.
RUSTDOCFLAGS="-D warnings -A rustdoc::private_intra_doc_links" cargo doc --no-deps --document-private-items --locked --quiet
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Unit tests (lib), the CLI's, and the integration binary; doc examples are
# not tests here.
cargo test --locked --lib --bins --tests -- --test-threads="${BANGTIN_TEST_THREADS:-4}" 2>&1 | tee "$log"
passed=$(grep '^test result:' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep '^test result:' "$log" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
echo "tests: ${passed} passed, ${failed} failed"
