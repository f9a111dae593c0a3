"""Plain names of the A/B engine's method codes, for tables a reader sees.

The results file keeps the codes (``extra.method_code``) for machines; a report shows these names.
"""

from __future__ import annotations

METHOD_NAMES: dict[str, str] = {
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
    "lee_bounds": "Lee bounds (respondents trimmed)",
    "always_valid_mixture": "always-valid confidence sequence",
    "power_t": "t-test power",
    "power_z": "z-test power",
    "power_z_unpooled": "z-test power for two shares",
}


def method_name(code: str) -> str:
    """The plain name of a method code (``"delta_ratio_welch_t"`` -> ``"ratio over customers, delta
    method, Welch t"``); a code without one is shown with spaces for underscores rather than hidden."""
    code = code.split(":")[0].strip()
    return METHOD_NAMES.get(code, code.replace("_", " "))
