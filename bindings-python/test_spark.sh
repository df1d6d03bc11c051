#!/usr/bin/env bash
# The Spark tier: builds the oddsight wheel, installs it with the `spark` extra (pyspark,
# pandas, pyarrow) into bindings-python/.venv-spark and runs pytest on tests/spark (Spark in
# local mode: a day of minutes for 200 series, batch and Structured Streaming).
#
#   bindings-python/test_spark.sh                          # from anywhere
#   ODDSIGHT_SPARK_FRESH=1 bindings-python/test_spark.sh   # a new virtualenv first
#
# Needs a Rust toolchain, Python >= 3.9 with venv, Java 17 (or another Java pyspark supports)
# and PyPI. The virtualenv is kept between runs (pyspark is large); the wheel is rebuilt.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
python="${PYTHON:-python3}"
venv="$here/.venv-spark"
wheels="${CARGO_TARGET_DIR:-$root/target}/oddsight-spark-wheel"
start=$(date +%s)

if ! command -v java >/dev/null 2>&1; then
    echo "test_spark.sh: no java on PATH; Spark needs a Java runtime (17 or 21)" >&2
    exit 1
fi

cd "$here"
if [ -n "${ODDSIGHT_SPARK_FRESH:-}" ] || [ ! -x "$venv/bin/python" ]; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
python -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2" "pytest>=7" numpy

rm -rf "$wheels"
maturin build --release --out "$wheels" --manifest-path "$here/Cargo.toml"
wheel="$(ls "$wheels"/oddsight-*.whl)"
python -m pip install --quiet --disable-pip-version-check "$wheel[spark]"
python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"

export PYSPARK_PYTHON="$venv/bin/python" PYSPARK_DRIVER_PYTHON="$venv/bin/python"
# Run from outside the source tree, so `import oddsight` is the installed wheel.
set +e
(cd "$here/tests/spark" && python -m pytest -q -p no:cacheprovider "$here/tests/spark" "$@")
rc=$?
set -e
echo "test_spark.sh: pytest exit $rc, $(($(date +%s) - start)) s in all"
if [ "$rc" -eq 5 ]; then
    echo "test_spark.sh: pytest collected no tests (is pyspark installed?)" >&2
    exit 1
fi
exit "$rc"
