"""Where the study's aggregations run: DuckDB in this process (the default), or Apache Spark.

Each aggregation is one SQL text in DuckDB's dialect, run against a *source*: an object with
``relation``, ``execute(select, *, from_=None) -> list[tuple]`` and ``columns()``.
:func:`open_source` gives the source of a data file for the engine a run was asked for; the
analyses take any source and never ask which engine it is. Models still fit in this process, on
the rows or sums the engine returns.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path

ENGINES = ("duckdb", "spark")
DEFAULT_MASTER = "local[2]"
# local, local[4], local[*], local[4,2] (cores, retries); a cluster's master; a Spark Connect server.
_MASTER = re.compile(r"local(\[(\d+|\*)(,\d+)?\])?|(spark|k8s|mesos)://\S+|sc://\S+|yarn")


def spark_missing(master: str = DEFAULT_MASTER) -> str | None:
    """Why Spark cannot run here (no pyspark, no Java), or None when it can.

    A Spark Connect master (``sc://``) needs no Java on this machine, only the client.
    """
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install -e '.[spark]')"
    if master.startswith("sc://"):
        return None
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home, "bin", "java")) if java_home and Path(java_home, "bin", "java").is_file() else shutil.which("java")
    if java is None:
        return "Spark needs Java 17 or later and none was found (install a JRE, e.g. Debian's default-jre-headless, or set JAVA_HOME)"
    major = _java_major(java)
    if major is not None and major < 17:
        return f"Spark 4 needs Java 17 or later; {java} is Java {major} (set JAVA_HOME to a newer one)"
    return None


def _java_major(java: str) -> int | None:
    """The major version of a ``java`` executable (``java -version`` prints it on stderr), or None if unreadable."""
    import subprocess

    try:
        printed = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', printed)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def check_engine(engine: str, spark_master: str = DEFAULT_MASTER) -> None:
    """Refuse an engine choice that cannot run, before anything else does.

    Raises
    ------
    ValueError
        One line: an unknown engine, a master that is not a Spark master URL, or Spark without
        pyspark or Java.
    """
    if engine not in ENGINES:
        raise ValueError(f"--engine must be one of {', '.join(ENGINES)}, got {str(engine)[:80]!r}")
    if not _MASTER.fullmatch(str(spark_master)):
        raise ValueError(f"--spark-master must be local[N], spark://host:port, yarn, k8s://..., or sc://host:port "
                         f"for Spark Connect, got {str(spark_master)[:80]!r}")
    if engine == "spark":
        missing = spark_missing(spark_master)
        if missing:
            raise ValueError(f"--engine spark: {missing}")


def open_source(path: str | Path, engine: str = "duckdb", spark_master: str = DEFAULT_MASTER):
    """The source of a data file for an engine.

    Parameters
    ----------
    path : str or Path
        Parquet (or CSV) file; for DuckDB also a DuckDB database's file.
    engine : {"duckdb", "spark"}
    spark_master : str
        Spark master URL for ``engine="spark"`` (:func:`study.engine.spark.spark_session`).

    Returns
    -------
    study.engine.sources.DuckDBSource or study.engine.spark.SparkSource
    """
    check_engine(engine, spark_master)
    if engine == "spark":
        from study.engine.spark import SparkSource, spark_session

        return SparkSource(path, spark_session(spark_master))
    from study.engine.sources import DuckDBSource

    return DuckDBSource(path)
