#!/usr/bin/env bash
# oddsight against river, pandas, ADTK, scikit-learn, isotree and PyOD on the same seeded data, in
# one run; prints markdown tables (see compare.py for what is measured and how).
#
#   benches/compare/run.sh                  # full sizes: 1,000,000 points, 100,000 forest rows
#   benches/compare/run.sh --quick          # small sizes, a few seconds per tool
#   benches/compare/run.sh --section forest --repeat 3 --json /tmp/forest.json
#
# Sets up benches/compare/.venv (the peers pinned in requirements.txt, and the oddsight wheel
# built from bindings-python/) and benches/compare/.venv/adtk (requirements-adtk.txt), builds
# the Rust runners in release mode, then runs compare.py with every tool held to one thread.
# Needs a Rust toolchain, Python >= 3.9 with venv, a C++ compiler (isotree builds from source)
# and PyPI. The first run takes a while (isotree's build); later runs reuse both environments.
# PYTHON picks the interpreter for the environments. Not part of test.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
venv="$here/.venv"
target="${CARGO_TARGET_DIR:-$root/target}"
pip_quiet=(--quiet --disable-pip-version-check)

# Installs requirements file $2 into virtualenv $1, unless that file is unchanged since the last
# install there.
setup() {
    local env="$1" requirements="$2" stamp="$1/.installed-$(basename "$2")"
    if [ ! -x "$env/bin/python" ]; then
        "$python" -m venv "$env"
    fi
    if ! cmp -s "$requirements" "$stamp"; then
        echo "run.sh: installing $(basename "$requirements") into $env" >&2
        "$env/bin/python" -m pip install "${pip_quiet[@]}" -r "$requirements"
        cp "$requirements" "$stamp"
    fi
}

setup "$venv" "$here/requirements.txt"
setup "$venv/adtk" "$here/requirements-adtk.txt"

echo "run.sh: building the oddsight wheel and the Rust runners (release)" >&2
wheels="$venv/wheels"
rm -rf "$wheels"
"$venv/bin/maturin" build --quiet --release --out "$wheels" --manifest-path "$root/bindings-python/Cargo.toml" >&2
"$venv/bin/python" -m pip install "${pip_quiet[@]}" --force-reinstall --no-deps "$wheels"/oddsight-*.whl
cargo build --quiet --release -p oddsight-benches --example compare_stream --example compare_forest \
    --manifest-path "$root/Cargo.toml"

# One thread for every library that could start more, so that the calling thread's CPU time is
# all the work. OpenBLAS core-type overrides slow a current numpy down; they are dropped here.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
cd "$root"
exec "$venv/bin/python" "$here/compare.py" --bin-dir "$target/release/examples" \
    --adtk-python "$venv/adtk/bin/python" "$@"
