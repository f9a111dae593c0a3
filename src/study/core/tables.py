"""What each column of a table holds, decided where the table is built.

A report lays numbers out differently from text (right-aligned, on one line, in even-width digits).
Most columns say what they hold through their dtype; a column of numbers written as text (an
interval such as ``-0.163 to -0.137``, a p-value such as ``<0.001``, a share such as ``12.3%``) is
marked by the function that writes it, with :func:`numbers_as_text`, because nothing else can tell
it from words.
"""

from __future__ import annotations

import pandas as pd

# Key of ``DataFrame.attrs``: pandas carries attrs through copies, set_index and column assignment.
NUMBERS_AS_TEXT = "numbers as text"

# Text longer than this is prose: a report gives its column room to wrap into readable lines.
PROSE_LENGTH = 30

NUMBER, TEXT, PROSE = "num", "text", "prose"


def numbers_as_text(table: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Mark columns of ``table`` as numbers written as text, and return ``table``.

    Parameters
    ----------
    table : pandas.DataFrame
        Changed in place: its ``attrs`` record the columns.
    *columns : str
        Labels of columns holding intervals, formatted p-values, percentages and the like.

    Returns
    -------
    pandas.DataFrame
        ``table`` itself, so that a builder can return ``numbers_as_text(table, ...)``.
    """
    marked = list(table.attrs.get(NUMBERS_AS_TEXT, []))
    table.attrs[NUMBERS_AS_TEXT] = marked + [c for c in columns if c not in marked]
    return table


def _holds_numbers(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values):
        return False
    if pd.api.types.is_numeric_dtype(values):
        return True
    # An object column of Python numbers (None where missing) is still a column of numbers.
    kind = pd.api.types.infer_dtype(values, skipna=True)
    return kind in {"integer", "floating", "mixed-integer-float", "decimal"}


def column_kinds(table: pd.DataFrame) -> list[str]:
    """The kind of each column of ``table``, in order: ``"num"``, ``"text"`` or ``"prose"``.

    A column is ``"num"`` when its dtype is numeric (not boolean), when it holds only Python numbers,
    or when it is marked with :func:`numbers_as_text`. Other columns are ``"prose"`` when a value is
    longer than :data:`PROSE_LENGTH` characters, else ``"text"``.

    Parameters
    ----------
    table : pandas.DataFrame
        The table as built, before its numbers are formatted for display.

    Returns
    -------
    list of str
        One kind per column.
    """
    marked = set(table.attrs.get(NUMBERS_AS_TEXT, []))
    kinds = []
    for position, label in enumerate(table.columns):
        values = table.iloc[:, position]
        if label in marked or _holds_numbers(values):
            kinds.append(NUMBER)
        else:
            longest = max((len(str(v)) for v in values if not pd.isna(v)), default=0)
            kinds.append(PROSE if longest > PROSE_LENGTH else TEXT)
    return kinds
