"""Plain names of the internal method codes, for the tables a reader sees; the codes stay in the results JSON."""

from __future__ import annotations

# Internal method code -> plain name, for tables; the code itself stays in the results JSON.
METHODS: dict[str, str] = {
    "welch_t": "difference of means, Welch t",
    "welch_z": "difference of means, normal approximation",
    "z_unpooled": "difference of shares, z-test",
    "z_pooled": "difference of shares, pooled z-test",
    "z_unpooled_cc": "difference of shares, z-test with continuity correction",
    "z_pooled_cc": "difference of shares, pooled z-test with continuity correction",
    "delta_ratio_welch_t": "ratio over customers, delta method, Welch t",
    "delta_ratio_z": "ratio over customers, delta method, normal approximation",
    "cuped_ols_hc1_t": "CUPED-adjusted, robust SE",
    "cuped_pooled_welch_t": "CUPED-adjusted (pooled), Welch t",
    "cuped_pooled_z": "CUPED-adjusted (pooled), normal approximation",
    "cuped_ratio_welch_t": "CUPED-adjusted ratio, delta method, Welch t",
    "cuped_ratio_z": "CUPED-adjusted ratio, delta method, normal approximation",
    "winsorized_welch_t": "winsorized at the 99th percentile, Welch t",
    "yuen_t": "10% trimmed means (Yuen)",
    "mann_whitney_u": "Mann-Whitney (chance a treated value is higher)",
    "bootstrap_percentile": "bootstrap interval of the difference of means",
    "delta_log": "relative lift, delta method on the log scale",
    "lee_bounds": "Lee bounds (respondents trimmed)",
    "always_valid_mixture": "always-valid confidence sequence",
    "power_t": "t-test power",
    "power_z": "z-test power",
    "power_z_unpooled": "z-test power for two shares",
    "holm": "Holm's correction",
    "fdr_bh": "Benjamini-Hochberg correction",
}


def method_name(code: str) -> str:
    """The plain name of an internal method code, for a table a reader sees.

    Parameters
    ----------
    code : str
        A method code (``"delta_ratio_welch_t"``) or a full method text that starts with one
        (``"welch_t: Welch's unequal-variance t-test, ..."``).

    Returns
    -------
    str
        The plain name (``"ratio over customers, delta method, Welch t"``); text that starts with no known
        code comes back unchanged, so a new code shows as itself rather than vanishing.
    """
    key = code.split(":", 1)[0].strip()
    return METHODS.get(key, code)
