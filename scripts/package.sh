#!/usr/bin/env bash
# Builds the Debian package, target/debian/startpoint_<version>-1_<arch>.deb, with cargo-deb:
# the binary, man pages for it and each subcommand, bash/zsh/fish completions, the README, the
# changelog and the licence (Cargo.toml's [package.metadata.deb] lists them).
#
#   scripts/package.sh            the release build (what to install)
#   scripts/package.sh --dev      the dev profile's binary, for the packaging test (quicker)
#
# Installs cargo-deb (from crates.io, pinned) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
profile=release
dir=release
if [ "${1:-}" = "--dev" ]; then
    profile=dev
    dir=debug
fi

if ! cargo deb --version >/dev/null 2>&1; then
    echo "==> installing cargo-deb $CARGO_DEB_VERSION"
    cargo install --locked --quiet cargo-deb --version "$CARGO_DEB_VERSION"
fi

echo "==> building startpoint ($profile)"
cargo build --locked --profile "$profile" --bin startpoint
bin="target/$dir/startpoint"

assets=target/package-assets
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions"
"$bin" man > "$assets/man/startpoint.1"
# One page per subcommand, as `--help` lists them (no list here to fall behind).
subcommands=$("$bin" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }' | grep -vx help)
for sub in $subcommands; do
    "$bin" man "$sub" > "$assets/man/startpoint-$sub.1"
done
gzip -9n "$assets"/man/*.1
"$bin" completions bash > "$assets/completions/startpoint"
"$bin" completions zsh > "$assets/completions/_startpoint"
"$bin" completions fish > "$assets/completions/startpoint.fish"

echo "==> cargo deb"
cargo deb --locked --no-build --profile "$profile" --output target/debian
