#!/usr/bin/env bash
# The packaging test (run by scripts/test.sh): builds the Debian package from the dev profile's
# binary (the release build takes minutes more and packs the same way; cargo-deb warns that it
# is meant for release builds, and the pinned version packs the dev one all the same), then
# checks it as a
# user would meet it: the metadata (dpkg-deb -I), the files (dpkg-deb -c), and, extracted into a
# temporary directory (dpkg-deb -x), `startpoint --version` run and every man page rendered
# (man -l). `scripts/package.sh` alone builds the release package.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/package.sh --dev
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)
deb="target/debian/startpoint_${version}-1_${arch}.deb"
fail() { echo "package check: $*" >&2; exit 1; }
[ -f "$deb" ] || fail "no $deb"

info=$(dpkg-deb -I "$deb")
for field in "Package: startpoint" "Version: ${version}-1" "Architecture: ${arch}" \
    "Section: database" "Maintainer: The startpoint developers"; do
    grep -qx " $field" <<<"$info" || fail "dpkg-deb -I lacks '$field':
$info"
done
grep -q '^ Depends: .*libc6' <<<"$info" || fail "no libc6 dependency:
$info"

files=$(dpkg-deb -c "$deb" | awk '{print $6}')
for path in ./usr/bin/startpoint ./usr/share/man/man1/startpoint.1.gz \
    ./usr/share/man/man1/startpoint-resolve-position.1.gz \
    ./usr/share/man/man1/startpoint-start-task.1.gz \
    ./usr/share/bash-completion/completions/startpoint \
    ./usr/share/zsh/vendor-completions/_startpoint \
    ./usr/share/fish/vendor_completions.d/startpoint.fish \
    ./usr/share/doc/startpoint/README.md ./usr/share/doc/startpoint/changelog.gz \
    ./usr/share/doc/startpoint/LICENSE; do
    grep -qx "$path" <<<"$files" || fail "the package lacks $path:
$files"
done

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
"$root/usr/bin/startpoint" --version | head -1 | grep -qx "startpoint ${version}" \
    || fail "the extracted binary's --version: $("$root/usr/bin/startpoint" --version)"
pages=0
for page in "$root"/usr/share/man/man1/*.1.gz; do
    rendered=$(MANWIDTH=80 man -l "$page" 2>&1) || fail "man -l $page: $rendered"
    grep -q '^NAME' <<<"$rendered" || fail "$page renders without a NAME section"
    pages=$((pages + 1))
done
echo "package check: $deb: metadata, $(wc -l <<<"$files") entries, --version and $pages man pages OK"
