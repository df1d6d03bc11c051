#!/usr/bin/env bash
# The Node bindings' whole check, on a fresh machine with Node 20+, npm and a Rust toolchain
# (nothing is downloaded but npm and crates.io packages):
#   1. npm install from the committed lock file (not `npm ci`: the registry this project
#      reaches lacks some other-platform optional packages of a napi CLI dependency, which
#      `npm ci` refuses and `npm install` skips)
#   2. the Rust programs the cross-language tests compare with: `oddsight` and `vectors`
#   3. the release addon (napi build), and that the committed index.d.ts / native.js are current
#   4. node --test
#   5. npm pack, then install the tarball into a fresh project with no Rust on PATH and
#      require() and import it
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
started=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

step "npm install (from package-lock.json)"
npm install --ignore-scripts --no-audit --no-fund

step "the Rust side of the cross-language tests: oddsight and vectors"
triple=$(rustc -vV | sed -n 's/^host: //p')
# Same target and target dir as the napi build below, so the dependencies are built once.
cargo build --release --target "$triple" --target-dir target -p oddsight-examples --bin oddsight -p oddsight-node --example vectors
export ODDSIGHT_CLI="$here/target/$triple/release/oddsight"
export ODDSIGHT_VECTORS="$here/target/$triple/release/examples/vectors"

step "release build of the addon"
npm run build
if git -C "$here" rev-parse --git-dir >/dev/null 2>&1 && ! git -C "$here" diff --quiet -- index.d.ts native.js; then
  git -C "$here" --no-pager diff --stat -- index.d.ts native.js
  echo "index.d.ts or native.js changed on build: commit the regenerated files" >&2
  exit 1
fi

step "node --test"
npm test

step "npm pack, install into a fresh project without Rust"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
npm pack --pack-destination "$work" --silent >/dev/null
tarball=$(ls "$work"/oddsight-*.tgz)
listing=$(tar -tzf "$tarball")
sed 's/^/  /' <<<"$listing"
grep -q '^package/oddsight\..*\.node$' <<<"$listing" || { echo "the tarball carries no addon" >&2; exit 1; }
mkdir "$work/app"
cd "$work/app"
npm init -y >/dev/null
# No cargo or rustc on PATH, and CARGO pointing at a program that fails: the install must not
# need them.
node_dir=$(dirname "$(command -v node)")
env -i HOME="$work" PATH="$node_dir:/usr/bin:/bin" CARGO=/bin/false RUSTC=/bin/false \
  npm install --no-audit --no-fund "$tarball"
env -i HOME="$work" PATH="$node_dir:/usr/bin:/bin" node -e '
  const o = require("oddsight")
  const s = o.score(new Float64Array([1, 2, 3, 2, 1, 2, 3, 2, 1, 50]), null, "ewma(warmup=3)")
  if (!(s[9] > 0.5)) throw new Error("unexpected scores " + s)
  const d = new o.Detector("mad")
  try { d.observe(NaN) } catch (e) { if (e.code !== "NonFiniteValue") throw e }
  console.log("  require: ok", s[9].toFixed(3))'
env -i HOME="$work" PATH="$node_dir:/usr/bin:/bin" node --input-type=module -e '
  import { Detector, investigate, generateCase } from "oddsight"
  const d = new Detector()
  const scores = await d.observeBatchAsync(new Float64Array(1000).map((_, i) => i % 10))
  const report = await investigate(generateCase(1, 0))
  console.log("  import: ok", scores.length, report.root_cause.service)'
cd "$here"

step "done in $(( $(date +%s) - started )) s"
