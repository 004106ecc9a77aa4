#!/usr/bin/env bash
# Installs versitygw (the Versity S3 Gateway), the real S3-compatible server
# that the scratchcache/stage tests start on 127.0.0.1. Idempotent: quick when
# the binary is already on PATH or in $(go env GOPATH)/bin. The first build
# takes about 5 minutes on 2 cores; later ones reuse the module cache.
set -euo pipefail

version=v1.8.0
gobin="$(go env GOPATH)/bin"

if command -v versitygw >/dev/null 2>&1; then
  echo "versitygw: found $(command -v versitygw), nothing to do"
  exit 0
fi
if [ -x "$gobin/versitygw" ]; then
  echo "versitygw: found $gobin/versitygw, nothing to do"
  exit 0
fi
echo "versitygw: building github.com/versity/versitygw/cmd/versitygw@$version into $gobin (about 5 minutes the first time)"
start=$(date +%s)
go install "github.com/versity/versitygw/cmd/versitygw@$version"
echo "versitygw: installed $gobin/versitygw in $(( $(date +%s) - start ))s"
