"""Topic discovery gives the same table on processors with other vector instructions.

numpy picks its SIMD kernels at run time (``NPY_DISABLE_CPU_FEATURES`` turns the newer ones off), so the
factorization's weights differ in their last bits between machines. The committed notebook outputs must not:
ranked by raw bits, the examples of a topic and the order of near-equal terms changed with the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from study import config

TABLE = """
import pandas as pd
from study.feedback.discover import discover
comments = pd.read_parquet({path!r}, columns=["comment"])["comment"].dropna()
print(discover(comments[comments.str.strip() != ""].head(4000), k=8, seed=2026).topics.to_json())
"""


def features_found() -> list[str]:
    from numpy._core._multiarray_umath import __cpu_features__

    return [name for name, present in __cpu_features__.items() if present]


def topics_table(disabled: str | None) -> str:
    env = {**os.environ, **({"NPY_DISABLE_CPU_FEATURES": disabled} if disabled else {})}
    done = subprocess.run([sys.executable, "-c", TABLE.format(path=str(config.SAMPLE_DATA))], env=env,
                          capture_output=True, text=True, timeout=300, check=True)
    return done.stdout


def test_the_topics_table_does_not_depend_on_the_processors_vector_instructions():
    if "AVX2" not in features_found():
        pytest.skip("this processor has no AVX2 to turn off: both runs would use the same kernels")
    assert topics_table("X86_V3") == topics_table(None)


def test_largest_first_keeps_the_order_of_values_equal_to_their_digits():
    from study.feedback.discover import largest_first

    values = np.array([0.5, 1.0, 0.5 + 1e-13, 0.25, 1.0 - 1e-14])
    assert largest_first(values).tolist() == [1, 4, 0, 2, 3]
    assert largest_first(np.zeros(3)).tolist() == [0, 1, 2]
