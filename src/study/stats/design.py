"""Design matrices of the study's formulas without patsy's row-by-row pass over categorical terms.

patsy turns ``C(name)`` into dummies by looking up every row's value in a Python loop, which
dominates the fitting time of the linear models on large data. Here patsy still reads the formula,
learns the levels and memorizes its stateful transforms (spline knots) on the data, so the
:class:`patsy.DesignInfo`, the column names and their order are patsy's own; only the columns
of single-factor categorical terms are filled from the pandas category codes (the same rows of
the same contrast matrix patsy would pick), and every other term is left to patsy. The matrices
are identical to ``patsy.dmatrix``'s, value for value.

Anything outside that path (a text column that is not a pandas Categorical, missing values,
categorical interactions) falls back to patsy for the whole design.
"""

from __future__ import annotations

import ast
import re

import numpy as np
import pandas as pd
import patsy
from statsmodels.base.model import Model

_CATEGORICAL_CALL = re.compile(r"^C\((\w+|Q\(.*\))\)$", re.DOTALL)
# Formula text sees the data's columns and patsy's own functions (C, cr), nothing of this module.
_NO_NAMES = patsy.EvalEnvironment([{}])


class _PatsyOnly(Exception):
    """The data does not allow the shortcut: patsy builds the whole design."""


def design_matrix(frame: pd.DataFrame, rhs: str) -> pd.DataFrame:
    """``patsy.dmatrix(rhs, frame, return_type="dataframe")``, categorical columns built from codes.

    Parameters
    ----------
    frame : pandas.DataFrame
        Model columns; text as pandas Categoricals (see :func:`study.regression.fitting.model_frame`).
    rhs : str
        Right-hand side of a formula.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``frame``; ``.design_info`` holds patsy's :class:`patsy.DesignInfo`.
    """
    info = patsy.incr_dbuilder(rhs, lambda: iter([frame]), eval_env=_NO_NAMES)
    try:
        values = _fill(frame, info)
    except _PatsyOnly:
        return patsy.dmatrix(rhs, frame, eval_env=_NO_NAMES, return_type="dataframe")
    out = pd.DataFrame(values, columns=info.column_names, index=frame.index)
    out.design_info = info
    return out


def formula_model(model_class: type[Model], text: str, frame: pd.DataFrame, drop_intercept: bool = False,
                  **kwargs) -> Model:
    """``model_class.from_formula(text, frame, **kwargs)`` with the design from :func:`design_matrix`.

    The model gets what ``from_formula`` gives it (``formula``, ``model_spec``, ``data.frame``),
    so its results are those of the formula interface. A non-numeric or missing outcome is left
    to ``from_formula``.

    Parameters
    ----------
    model_class : statsmodels model class
        E.g. ``statsmodels.api.OLS``, ``WLS``, ``Logit``.
    text : str
        ``outcome ~ terms`` with a single column as the outcome.
    frame : pandas.DataFrame
    drop_intercept : bool
        Leave out the intercept column and term, for a class whose ``from_formula`` does so
        (``PHReg``: ``drop_cols=["Intercept"]``).
    **kwargs
        Passed to the model (``weights=``, ``status=``, ...).

    Returns
    -------
    statsmodels.base.model.Model
        An instance of ``model_class``.
    """
    lhs, rhs = (part.strip() for part in text.split("~", 1))
    outcome = frame.get(lhs)
    if outcome is None or outcome.dtype != np.float64 or outcome.isna().any():
        return model_class.from_formula(text, frame, **kwargs)
    exog = design_matrix(frame, rhs)
    info = exog.design_info
    if drop_intercept and "Intercept" in exog.columns:
        exog = exog.drop(columns="Intercept")
        info = info.subset([name for name in info.term_names if name != "Intercept"])
    kwargs.setdefault("missing", "drop")
    model = model_class(frame[[lhs]], exog, missing_idx=None, formula=text, model_spec=info, **kwargs)
    model.formula = text
    model.data.frame = frame
    return model


def _fill(frame: pd.DataFrame, info: patsy.DesignInfo) -> np.ndarray:
    """The design's values: categorical terms from their codes, the other terms by patsy."""
    # Zeros from the allocator: a dummy column is then written only where its level is.
    out = np.zeros((len(frame), len(info.column_names)))
    rest = []
    for term, columns in info.term_slices.items():
        found = _categorical_codes(frame, info, term)
        if found is None:
            rest.append(term)
            continue
        codes, contrast = found
        ones = _the_one_of_each_row(contrast)
        if ones is None:
            out[:, columns] = contrast[codes]
        else:  # dummies (treatment coding): one 1 per row at most, where the rows' level has its column
            at = ones[codes]
            rows = np.flatnonzero(at >= 0)
            out[rows, columns.start + at[rows]] = 1.0
    if rest:
        sub = info.subset(rest)
        try:
            built = np.asarray(patsy.build_design_matrices([sub], frame, NA_action="raise")[0])
        except patsy.PatsyError as missing:  # patsy's full build drops the row instead
            raise _PatsyOnly from missing
        out[:, [info.column_name_indexes[name] for name in sub.column_names]] = built
    return out


def _categorical_codes(frame: pd.DataFrame, info: patsy.DesignInfo, term: patsy.Term) -> tuple[np.ndarray, np.ndarray] | None:
    """The category codes of a ``C(name)`` term's column and patsy's contrast matrix; None for a term that is not one.

    Row ``codes[i]`` of the contrast matrix is row ``i`` of the term's columns (patsy's own step).

    Raises
    ------
    _PatsyOnly
        If the column is not a Categorical with patsy's levels, or has missing values.
    """
    if len(term.factors) != 1 or info.factor_infos[term.factors[0]].type != "categorical":
        return None
    factor = term.factors[0]
    match = _CATEGORICAL_CALL.match(factor.code)
    column = frame.get(_column_name(match.group(1))) if match else None
    if column is None or not isinstance(column.dtype, pd.CategoricalDtype):
        raise _PatsyOnly
    if tuple(column.cat.categories) != tuple(info.factor_infos[factor].categories):
        raise _PatsyOnly
    codes = column.cat.codes.to_numpy()
    if (codes < 0).any():  # missing: patsy would drop the row
        raise _PatsyOnly
    (subterm,) = info.term_codings[term]
    return codes, subterm.contrast_matrices[factor].matrix


def _the_one_of_each_row(contrast: np.ndarray) -> np.ndarray | None:
    """For a matrix of zeros with at most one 1 per row, each row's column of it (-1 for none); else None."""
    if not np.isin(contrast, (0.0, 1.0)).all() or (contrast.sum(axis=1) > 1).any():
        return None
    return np.where(contrast.any(axis=1), contrast.argmax(axis=1), -1)


def _column_name(text: str) -> str | None:
    """The column of ``C(...)``'s argument: a bare name, or the string literal of ``Q('name')``."""
    if not text.startswith("Q("):
        return text
    try:
        name = ast.literal_eval(text[2:-1])
    except (ValueError, SyntaxError):
        return None
    return name if isinstance(name, str) else None
