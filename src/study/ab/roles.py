"""What each metric of an experiment is for: its role in the decision, which direction is better, and
the loss a guardrail may show before it blocks a launch.

A column map lists metrics in one of two forms::

    metrics: [retention_7, churn_7]          # the first is primary, the others guardrails

    metrics:
      retention_7:    {role: primary,   better: higher}
      churn_7:        {role: guardrail, better: lower, margin: 0.005}   # absolute non-inferiority margin
      sum_gamerounds: {role: secondary, better: higher, robust: true}

Exactly one metric is primary. A guardrail's ``margin`` is in the metric's own unit (0.005 is half a
percentage point of a rate); without one, only a significant loss blocks a launch, and the verdict
says so. A secondary metric is reported and never decides.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from study.data.column_map import check_keys, scalar_text
from study.data.convert import short
from study.data.schema import DataError

PRIMARY, GUARDRAIL, SECONDARY = "primary", "guardrail", "secondary"
ROLES = (PRIMARY, GUARDRAIL, SECONDARY)
HIGHER, LOWER = "higher", "lower"
ROLE_KEYS = ("role", "better", "margin", "robust")


@dataclass(frozen=True)
class MetricRole:
    """A metric's part in the decision.

    Attributes
    ----------
    metric : str
    role : str
        ``primary`` (decides), ``guardrail`` (must not get worse by more than ``margin``) or
        ``secondary`` (reported only).
    better : str
        ``higher`` or ``lower``: which direction of the metric is good.
    margin : float or None
        For a guardrail: the largest loss, in the metric's unit, that still counts as no harm.
    robust : bool
        Whether the report adds comparisons robust to heavy tails.
    """

    metric: str
    role: str = SECONDARY
    better: str = HIGHER
    margin: float | None = None
    robust: bool = False

    @property
    def sign(self) -> int:
        """+1 when higher is better, -1 when lower is: an effect times ``sign`` is a gain when positive."""
        return 1 if self.better == HIGHER else -1

    def to_dict(self) -> dict:
        return asdict(self)


def parse_metrics(value, source: str) -> list[MetricRole]:
    """The ``metrics`` entry of a column map's experiment section, in either form (module docstring).

    Raises
    ------
    DataError
        Naming the metric and the value: an unknown key (with the nearest known one), a role or
        direction that is not one of the known words, a margin that is not a positive number, or
        not exactly one primary metric.
    """
    if isinstance(value, dict):
        roles = [_one(metric, spec, source) for metric, spec in value.items()]
    else:
        names = [scalar_text(v, "an entry of metrics", source) for v in (value if isinstance(value, list) else [value])]
        roles = [MetricRole(name, PRIMARY if i == 0 else GUARDRAIL) for i, name in enumerate(names)]
    primaries = [r.metric for r in roles if r.role == PRIMARY]
    if len(primaries) != 1:
        raise DataError(f"{source}: metrics need exactly one with role: primary, found {len(primaries)}"
                        + (f" ({', '.join(short(p) for p in primaries)})" if primaries else ""))
    return roles


def _one(metric, spec, source: str) -> MetricRole:
    name = scalar_text(metric, "a metric name", source)
    where = f"metrics: {short(name)}"
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise DataError(f"{source}: {where} must be a mapping such as {{role: guardrail, better: lower, margin: 0.01}}, "
                        f"not {short(spec)}")
    check_keys(spec, ROLE_KEYS, where, source)
    role = str(spec.get("role", SECONDARY)).strip().lower()
    better = str(spec.get("better", HIGHER)).strip().lower()
    if role not in ROLES:
        raise DataError(f"{source}: {where}: role must be one of {', '.join(ROLES)}, not {short(spec.get('role'))}")
    if better not in (HIGHER, LOWER):
        raise DataError(f"{source}: {where}: better must be higher or lower, not {short(spec.get('better'))}")
    margin = spec.get("margin")
    if margin is not None:
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not math.isfinite(margin) or margin <= 0:
            raise DataError(f"{source}: {where}: margin must be a positive number in the metric's unit, not {short(margin)}")
        if role != GUARDRAIL:
            raise DataError(f"{source}: {where}: a margin applies to a guardrail, not to a {role} metric")
        margin = float(margin)
    robust = spec.get("robust", False)
    if not isinstance(robust, bool):
        raise DataError(f"{source}: {where}: robust must be true or false, not {short(robust)}")
    return MetricRole(name, role, better, margin, robust)


def sla_roles(repeat_margin: float | None = None, spend_margin: float | None = None,
              response_margin: float | None = None) -> dict[str, MetricRole]:
    """The SLA experiment's metrics and their parts: CSAT decides; buying again, spending and answering
    the survey must not suffer; the speed-up itself is reported (lower is better).

    Parameters
    ----------
    repeat_margin, spend_margin, response_margin : float, optional
        Non-inferiority margins of the guardrails: repeat purchase (a share, e.g. 0.01 for 1 percentage
        point, for both the ticket-level and the per-customer rate), follow-up spend per customer (money)
        and the survey response rate (a share).
    """
    return {role.metric: role for role in (
        MetricRole("csat", PRIMARY, HIGHER),
        MetricRole("repeat_purchase", GUARDRAIL, HIGHER, repeat_margin),
        MetricRole("customer_repeat_rate", GUARDRAIL, HIGHER, repeat_margin),
        MetricRole("customer_spend", GUARDRAIL, HIGHER, spend_margin),
        MetricRole("survey_response", GUARDRAIL, HIGHER, response_margin),
        MetricRole("response_log2_hours", SECONDARY, LOWER),
    )}


def tag(effects, roles: dict[str, MetricRole]) -> list:
    """The effects with their metric's role, direction and margin in ``extra`` (for the results file
    and the verdict); effects of metrics without a role are left as they are."""
    return [replace(e, extra={**e.extra, "role": roles[e.metric].role, "better": roles[e.metric].better,
                              "margin": roles[e.metric].margin}) if e.metric in roles else e for e in effects]
