#!/usr/bin/env bash
# Prints the path of wait4x v2.14.3 (the Go peer the `check` benchmark is paired with),
# building it once from its Go module into /var/cache/pulp-entrypoint (or
# ~/.cache/pulp-entrypoint), the way test/services/start.sh builds FerretDB: the module at
# the pinned version, built inside itself with its own go.sum (`go install ...@version` is
# refused by the proxy here). Needs Go the first time only.
set -euo pipefail
VERSION=v2.14.3
# shellcheck source=../../test/services/defaults.sh
. "$(dirname "$0")/../../test/services/defaults.sh"
cache=$CACHE
bin="$cache/wait4x-${VERSION#v}"
# Taken whole, then matched: `version | grep -q` under pipefail fails at random (SIGPIPE).
if [[ -x "$bin" ]] && grep -q "Version: *$VERSION\b" <<<"$("$bin" version 2>/dev/null)"; then echo "$bin"; exit 0; fi
command -v go >/dev/null || { echo "ensure-wait4x: Go is needed to build wait4x $VERSION once" >&2; exit 1; }
echo "ensure-wait4x: building wait4x $VERSION (first time only)" >&2
dir=$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download -json "github.com/atkrad/wait4x/v2@$VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -n "$dir" && -d "$dir" ]] || { echo "ensure-wait4x: go mod download gave no source directory" >&2; exit 1; }
work=$(mktemp -d)
cp -r "$dir" "$work/wait4x"
chmod -R u+w "$work/wait4x"
# -s -w: no symbol tables, as release builds are; the version string as the Makefile sets it.
(cd "$work/wait4x" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X wait4x.dev/v2/internal/app/wait4x/cmd.AppVersion=$VERSION" -o "$bin.tmp" ./cmd/wait4x) \
  || { echo "ensure-wait4x: go build failed" >&2; rm -rf "$work"; exit 1; }
mv "$bin.tmp" "$bin"
rm -rf "$work"
echo "$bin"
