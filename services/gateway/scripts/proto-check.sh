#!/usr/bin/env bash
# npm run proto:check: the API's protobuf definitions (proto/) pass `buf lint`, break nothing that
# main has (`buf breaking --against .git#branch=main`; skipped while main has no proto/ yet), and the
# committed generated code (services/gateway/src/gen) is what `buf generate` makes of them.
# Run from anywhere inside a clone; PROTO_AGAINST (default main) names the branch to compare with.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
root="$(git rev-parse --show-toplevel)"
bin="$repo/node_modules/.bin"
export PATH="$bin:$PATH"
against="${PROTO_AGAINST:-main}"
cd "$root"

buf lint
echo "proto:check: buf lint passed"

if ! git rev-parse --verify --quiet "refs/heads/$against" >/dev/null; then
  echo "proto:check: no local branch $against: breaking check skipped"
elif [ -z "$(git ls-tree -d "refs/heads/$against" proto)" ]; then
  echo "proto:check: $against has no proto/ yet: nothing to be compatible with"
else
  buf breaking --against ".git#branch=$against"
  echo "proto:check: buf breaking against $against passed"
fi

if [ -d services/gateway/src/gen ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  buf generate --output "$tmp"
  if ! diff -r "$tmp/services/gateway/src/gen" services/gateway/src/gen; then
    echo "proto:check: services/gateway/src/gen is not what buf generate makes: run npx buf generate" >&2
    exit 1
  fi
  echo "proto:check: generated code is up to date"
fi
