#!/usr/bin/env bash
# Builds the oddsight wheel, installs it into a fresh virtualenv and runs the pytest suite.
#
#   bindings-python/test.sh            # from anywhere
#   PYTHON=python3.12 bindings-python/test.sh
#
# Needs a Rust toolchain, Python >= 3.9 with venv, and PyPI (maturin, pytest, numpy). The
# wheel is built with the workspace's target directory, so Rust work already done is reused.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
python="${PYTHON:-python3}"
start=$(date +%s)

cd "$here"
rm -rf .venv dist
"$python" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2" "pytest>=7" numpy
# What the tests also exercise: pandas and polars inputs, the official openai client (against a
# loopback server). ODDSIGHT_TEST_MINIMAL=1 leaves them out (those tests are then skipped).
if [ -z "${ODDSIGHT_TEST_MINIMAL:-}" ]; then
    python -m pip install --quiet --disable-pip-version-check pandas polars openai
fi

# The wheel: abi3 (cp39-abi3), release profile, into dist/.
maturin build --release --out dist --manifest-path "$here/Cargo.toml"
python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps dist/oddsight-*.whl

# The command line the parity tests compare against, built from the same sources. If it does
# not build, the tests fall back to the newest target/{release,debug}/oddsight (or fail).
if cargo build --release --quiet -p oddsight-examples --bin oddsight --manifest-path "$root/Cargo.toml"; then
    export ODDSIGHT_CLI="${CARGO_TARGET_DIR:-$root/target}/release/oddsight"
else
    echo "test.sh: the oddsight command line does not build; parity tests use an existing binary" >&2
fi

# Run from outside the source tree, so `import oddsight` is the installed wheel.
set +e
(cd "$here/tests" && python -m pytest -q -p no:cacheprovider "$here/tests" "$@")
rc=$?
set -e
echo "test.sh: pytest exit $rc, $(($(date +%s) - start)) s in all"
if [ "$rc" -eq 5 ]; then
    echo "test.sh: pytest collected no tests" >&2
    exit 1
fi
exit "$rc"
