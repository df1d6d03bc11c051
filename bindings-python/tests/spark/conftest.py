"""The Spark tier: Spark in local mode, seeded day-long series, in-process references.

Collected only where pyspark is installed (bindings-python/test_spark.sh installs it); the
main suite (bindings-python/test.sh) has no pyspark, so this folder is left out there.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("pandas") is None:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def spark():
    """A local-mode SparkSession (two cores, few shuffle partitions, no UI)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("oddsight-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def day():
    """The day of minutes for 200 series (288,000 rows), shuffled."""
    from sparkdata import day_of_minutes

    return day_of_minutes()


@pytest.fixture(scope="session")
def day_reference(day):
    """`reference` of `day` with the default detector."""
    from sparkdata import reference

    return reference(day)


def pytest_configure(config) -> None:
    # pyspark's own warnings about pandas 3 (it works; see docs/scale-out.md).
    config.addinivalue_line("filterwarnings", "ignore:PySpark does not yet fully support pandas:FutureWarning")
    config.addinivalue_line("filterwarnings", "ignore:The copy keyword is deprecated")
