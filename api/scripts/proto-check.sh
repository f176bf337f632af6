#!/usr/bin/env bash
# npm run proto:check: the API's protobuf definitions (api/proto) pass `buf lint`, break nothing that
# main has (`buf breaking` against main's copy: api/proto, or proto/ before the api package existed),
# and the committed generated code (api/src/gen) is what `buf generate` makes of them.
# Checks the clone the current directory is in (buf and protoc-gen-es come from this script's own
# clone); PROTO_AGAINST (default main) names the branch to compare with.
set -euo pipefail
tools="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/node_modules/.bin"
root="$(git rev-parse --show-toplevel)"
api="$root/api"
export PATH="$tools:$PATH"
against="${PROTO_AGAINST:-main}"
cd "$api"

buf lint
echo "proto:check: buf lint passed"

if ! git -C "$root" rev-parse --verify --quiet "refs/heads/$against" >/dev/null; then
  echo "proto:check: no local branch $against: breaking check skipped"
else
  previous=""
  for dir in api/proto proto; do
    if [ -n "$(git -C "$root" ls-tree -d "refs/heads/$against" "$dir")" ]; then previous="$dir"; break; fi
  done
  if [ -z "$previous" ]; then
    echo "proto:check: $against has no proto/ yet: nothing to be compatible with"
  else
    buf breaking --against "$root/.git#branch=$against,subdir=$previous"
    echo "proto:check: buf breaking against $against ($previous) passed"
  fi
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
buf generate --output "$tmp"
if ! diff -r "$tmp/src/gen" src/gen; then
  echo "proto:check: api/src/gen is not what buf generate makes: run npm run proto:generate" >&2
  exit 1
fi
echo "proto:check: generated code is up to date"
