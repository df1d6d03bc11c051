#!/usr/bin/env bash
# Runs every check oddsight has: formatting, lints, all tests (doc tests included), every
# example, and the benches in test mode. Installs what it needs; safe to run on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

step "toolchain components"
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test (unit, integration and doc tests)"
cargo test --workspace

step "investigate: HTTP transport against loopback servers (feature http)"
cargo test -p oddsight-investigate --features http

step "examples"
for example in examples/examples/*.rs; do
    name=$(basename "$example" .rs)
    step "example $name"
    cargo run --quiet --release -p oddsight-examples --example "$name" >/dev/null
done

step "benches in test mode"
cargo bench -p oddsight-benches -- --test

step "fuzz targets: build on stable, a short smoke run of each"
fuzz/smoke.sh

step "Python bindings: wheel into a fresh virtualenv, pytest"
bindings-python/test.sh

step "Node bindings: addon, node --test, npm pack into a fresh project"
bindings-node/test.sh

step "all checks passed"
