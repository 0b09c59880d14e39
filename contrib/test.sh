#!/usr/bin/env bash
# Runs berth's whole test suite: formatting, lints, unit tests and the integration tests,
# which drive the real binary as root and as two unprivileged users (with and without
# /etc/subuid ranges).
#
# As root (CI does this) it first installs the test prerequisites with apt-get and creates
# the unprivileged users; the rootless tests then fail instead of skipping when something
# is missing. As an ordinary user it runs what it can and says what it skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ]; then
  contrib/ci/install-test-deps.sh
  contrib/ci/rootless-user.sh
  contrib/ci/minbase.sh
  BERTH_MINBASE=/var/cache/berth-test/python.tar \
    BERTH_MINBASE_INCLUDE=python3,python3-pip,python3-venv,python-is-python3,ca-certificates \
    contrib/ci/minbase.sh
  export BERTH_TEST_REQUIRE_ROOTLESS=1
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --locked --all-targets
