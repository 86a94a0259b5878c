#!/usr/bin/env bash
# The project's one test command (README, CI): installs what the tests need, then checks the
# format, lints, and runs every test, the live-MariaDB tests included.
set -euo pipefail
cd "$(dirname "$0")/.."

# The live tests start private mariadbd servers; mariadb-binlog is the oracle for fixtures.
missing=()
[ -x /usr/sbin/mariadbd ] || command -v mariadbd >/dev/null 2>&1 || missing+=(mariadb-server)
command -v mariadb-binlog >/dev/null 2>&1 || missing+=(mariadb-client)
# rusqlite builds its bundled SQLite with the C compiler.
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
# The man page's test renders it as a user would; the packaging test reads the package with
# dpkg-deb and types a password at a pseudo-terminal made by util-linux's script.
command -v man >/dev/null 2>&1 || missing+=(man-db)
command -v dpkg-deb >/dev/null 2>&1 || missing+=(dpkg)
command -v script >/dev/null 2>&1 || missing+=(bsdutils)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "==> installing ${missing[*]}"
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    # The Debian service never starts in containers (policy-rc.d); the tests run their own servers.
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
echo "==> cargo doc (no broken or private links)"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps
echo "==> cargo check (fuzz targets)"
cargo check --locked --manifest-path fuzz/Cargo.toml
echo "==> cargo test"
cargo test --locked --all-targets
cargo test --locked --doc
echo "==> the Debian package (built, read, extracted, run)"
bash scripts/check-package.sh
