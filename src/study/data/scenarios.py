"""Departures from the simulator's default process, each breaking one assumption an analysis rests on.

The default process (``data/README.md``) is the world every model of the study is right for. A
:class:`Scenario` changes it in one documented way, so that a benchmark can show which estimate then
goes wrong, by how much, and whether the report flags it. Every scenario keeps the conditional means
exactly linear and inside their bounds (the module docstring of :mod:`study.data.simulate`), so the
truth stays exact.

``agent_confounding`` (0 to 1)
    Skilled agents also reply faster (log-minutes fall by 0.5 per unit of skill at full strength),
    and skill moves CSAT and resolution more strongly (per unit of skill: CSAT 0.10 -> 0.25,
    resolution 0.05 -> 0.15). The best agents stay as they are; weaker ones fall further behind, so
    the means stay inside the scale. Holding agents fixed still removes it; a model without
    ``agent_id`` is then confounded (no unmeasured confounding fails).
``sla_direct_effect`` (CSAT points, -0.10 to 0)
    The SLA's rushed replies lower CSAT directly, not only through speed, and lower resolution
    (by 0.2 x the effect, -1 pp at -0.05) and the QA score (by 20 x the effect, -1 point at -0.05).
    The instrumental-variables estimate's exclusion restriction fails: it is then biased by about
    the direct effect over the first stage.
``heteroskedastic`` (0 to 1)
    The slower the reply, the more polarized the answer: with probability ``heteroskedastic`` x the
    reply's position between the 4-minute floor and the 72-hour cap (on the log scale), CSAT is 1 or 5
    (5 with probability (m - 1) / 4) instead of 1 + Binomial(4, (m - 1) / 4). Both have mean m, so
    the means are unchanged and the variance grows with response time (up to four times).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# Agent confounding at full strength (agent_confounding = 1), per unit of agent skill in [-1, 1].
AGENT_SKILL_LOG_MINUTES = -0.5  # skilled agents reply faster
AGENT_SKILL_EXTRA_CSAT = 0.15  # on top of the default 0.10
AGENT_SKILL_EXTRA_RESOLVED = 0.10  # on top of the default 0.05

# The SLA's side effects per CSAT point of its direct effect.
SLA_RESOLVED_PER_POINT = 0.2
SLA_QUALITY_PER_POINT = 20.0


@dataclass(frozen=True)
class Scenario:
    """How the simulated process departs from the default (see the module docstring).

    Attributes
    ----------
    name : str
        The scenario's name, written into ``truth.json``; ``"custom"`` when knobs are set under the
        default's name.
    agent_confounding : float
        Strength of the agent confounding, 0 (default) to 1.
    sla_direct_effect : float
        The SLA's direct effect on CSAT in points, -0.10 to 0 (default 0).
    heteroskedastic : float
        Largest share of polarized answers (at the slowest reply), 0 (default) to 1.
    """

    name: str = "default"
    agent_confounding: float = 0.0
    sla_direct_effect: float = 0.0
    heteroskedastic: float = 0.0

    def __post_init__(self) -> None:
        for knob, low, high in (("agent_confounding", 0.0, 1.0), ("sla_direct_effect", -0.10, 0.0), ("heteroskedastic", 0.0, 1.0)):
            value = getattr(self, knob)
            if not low <= value <= high:
                raise ValueError(f"{knob} must be between {low:g} and {high:g} (the means must stay inside their bounds), got {value}")
        if self.name == "default" and not self.is_default:
            object.__setattr__(self, "name", "custom")

    @property
    def is_default(self) -> bool:
        """Whether every knob is at the default process."""
        return self.agent_confounding == 0 and self.sla_direct_effect == 0 and self.heteroskedastic == 0

    def as_dict(self) -> dict:
        """Name and knobs, as written into ``truth.json``."""
        return asdict(self)

    def agent_effect(self, skill: np.ndarray, base: float, extra: float) -> np.ndarray:
        """An agent's effect: ``base`` x skill, plus ``extra`` x strength x (skill - 1) under confounding.

        The slope per unit of skill grows by ``extra`` x strength; the added term is zero for the best
        agent (skill 1), so a mean whose upper bound was reached by the best agent stays inside it.
        """
        if self.agent_confounding == 0:
            return base * skill
        return base * skill + extra * self.agent_confounding * (skill - 1)

    @property
    def agent_log_minutes(self) -> float:
        """Log-minutes of the first reply per unit of agent skill."""
        return AGENT_SKILL_LOG_MINUTES * self.agent_confounding

    @property
    def sla_resolved_shift(self) -> float:
        """Change in the probability of resolution under the SLA."""
        return SLA_RESOLVED_PER_POINT * self.sla_direct_effect

    @property
    def sla_quality_shift(self) -> float:
        """Change in the QA score under the SLA (before rounding to whole points)."""
        return SLA_QUALITY_PER_POINT * self.sla_direct_effect

    def polarized_share(self, log2_hours: np.ndarray, floor_minutes: float, cap_minutes: float) -> np.ndarray:
        """Probability that an answer is polarized (1 or 5), growing from 0 at the floor to ``heteroskedastic`` at the cap."""
        low, high = np.log2(floor_minutes / 60.0), np.log2(cap_minutes / 60.0)
        return self.heteroskedastic * np.clip((log2_hours - low) / (high - low), 0.0, 1.0)


PRESETS = {
    "default": Scenario(),
    "agent-confounding": Scenario("agent-confounding", agent_confounding=1.0),
    "sla-direct-effect": Scenario("sla-direct-effect", sla_direct_effect=-0.05),
    "heteroskedastic": Scenario("heteroskedastic", heteroskedastic=1.0),
}


def scenario(value: Scenario | str | None) -> Scenario:
    """A :class:`Scenario` from itself, a preset's name (``"agent-confounding"``, ...) or ``None`` (the default).

    Raises
    ------
    ValueError
        For a name that is not a preset.
    """
    if value is None:
        return PRESETS["default"]
    if isinstance(value, Scenario):
        return value
    if value not in PRESETS:
        raise ValueError(f"unknown scenario '{value}'; choose one of {', '.join(PRESETS)}")
    return PRESETS[value]
