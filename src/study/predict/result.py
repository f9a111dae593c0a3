"""What the repeat-purchase model returns: one object the notebook shows, the results file saves and the summary reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd

from study.core.findings import Findings
from study.core.inference import Interval
from study.core.results import Estimate, Skipped, Source
from study.predict import findings as words
from study.predict import metrics
from study.predict.features import FeatureSet
from study.predict.models import NAMES

ANALYSIS = "09_repeat_model"


@dataclass
class ModelScore:
    """One predictive model judged on the test months.

    Attributes
    ----------
    kind : str
        ``logistic`` or ``boosted``.
    model : sklearn estimator
        Fitted on the training months.
    probability : numpy.ndarray
        Predicted probability of buying again, per test ticket.
    discrimination : study.predict.metrics.Discrimination
    brier, brier_interval
        Brier score and its customer-bootstrap interval.
    first_tenth, first_tenth_interval
        Share of the non-returners in the tenth ranked least likely to return, and its bootstrap interval.
    """

    kind: str
    model: object
    probability: np.ndarray
    discrimination: metrics.Discrimination
    brier: float
    brier_interval: tuple
    first_tenth: float
    first_tenth_interval: np.ndarray


@dataclass
class RepeatModel:
    """The predictive model of repeat purchase and the scenarios of the causal one.

    Attributes
    ----------
    source : Source
    parameters : dict
    skipped : str
        Why no predictive model could be judged ('' when one was).
    features : FeatureSet or None
    split : study.predict.split.Split or None
    ledger : RowLedger or None
    models : dict
        ``logistic`` / ``boosted`` -> :class:`ModelScore`.
    y_test : numpy.ndarray
    test_index : pandas.Index
    importance : pandas.DataFrame or Skipped
    scenarios : study.predict.scenarios.Scenarios or Skipped
    gaps : dict
        Feature -> tickets (training and test) without a value where none was expected; they are kept.
    baseline_auc : float or None
        Test-month AUC of the logistic model on the built-in features, when requested columns are compared with it.
    outperformers : dict
        Requested column -> its single-feature training AUC, where that beats ``baseline_auc`` by more than
        :data:`study.predict.features.OUTPERFORM_MARGIN` (a possible leak: a warning).
    """

    name: ClassVar[str] = ANALYSIS

    source: Source
    parameters: dict
    skipped: str = ""
    features: FeatureSet | None = None
    split: object = None
    ledger: object = None
    models: dict = field(default_factory=dict)
    y_test: np.ndarray | None = None
    test_index: pd.Index | None = None
    importance: object = None
    scenarios: object = None
    gaps: dict = field(default_factory=dict)
    baseline_auc: float | None = None
    outperformers: dict = field(default_factory=dict)

    @property
    def alpha(self) -> float:
        return float(self.parameters["alpha"])

    @property
    def base_rate(self) -> float:
        """Share of the test tickets after which the customer bought again."""
        return float(np.mean(self.y_test))

    @property
    def rows(self) -> dict:
        out = {}
        out["predictive model"] = (self.ledger.as_dict() if self.ledger is not None else
                                   {"in": self.source.rows, "used": 0,
                                    "dropped": {f"the analysis was skipped: {self.skipped}": self.source.rows}})
        if self.scenarios is not None and not isinstance(self.scenarios, Skipped):
            out["scenarios"] = self.scenarios.ledger.as_dict()
            randomized = self.scenarios.randomized
            if randomized is not None and not isinstance(randomized, Skipped):
                out["randomized estimate (SLA experiment)"] = randomized.ledger.as_dict()
        return out

    @property
    def estimates(self) -> list[Estimate]:
        out = []
        level = 1 - self.alpha
        n = len(self.test_index) if self.test_index is not None else 0
        for kind, score in self.models.items():
            d = score.discrimination
            out.append(Estimate(
                f"repeat_auc_{kind}", f"ROC AUC of the {NAMES[kind]} on the test months (0.5 = chance)", d.auc, d.se,
                d.low, d.high, None, n, f"rank AUC; percentile bootstrap over test customers ({len(d.draws)} replicates)",
                level, {"test_months": self.split.test_months, "delong_se": metrics.delong_se(self.y_test, score.probability)},
                interval=Interval("percentile", draws=d.draws)))
            out.append(Estimate(f"repeat_brier_{kind}", f"Brier score of the {NAMES[kind]} on the test months (lower is better)",
                                score.brier, None, *score.brier_interval, None, n,
                                "mean squared error of the predicted probability; percentile bootstrap over test customers",
                                level, {"base_rate_brier": self.base_rate * (1 - self.base_rate)}))
            low, high = score.first_tenth_interval
            out.append(Estimate(
                f"repeat_first_tenth_share_{kind}",
                f"Share of the customers who did not buy again found in the 10% of test tickets the {NAMES[kind]} ranks least likely to return",
                score.first_tenth, None, float(low), float(high), None, n, "percentile bootstrap over test customers", level))
        if self.scenarios is not None and not isinstance(self.scenarios, Skipped):
            out += self.scenarios.estimates
        return out

    @property
    def notes(self) -> list[str]:
        out = [f"predictive model: skipped, {self.skipped}"] if self.skipped else []
        if isinstance(self.scenarios, Skipped):
            out.append(f"{self.scenarios.section}: skipped, {self.scenarios.reason}")
        else:
            out += [f"{part.section}: skipped, {part.reason}" for part in
                    (getattr(self.scenarios, "randomized", None), getattr(self.scenarios, "sensitivity", None))
                    if isinstance(part, Skipped)]
        if self.features is not None:
            out += [f"feature left out: {n}" for n in self.features.left_out]
        out += [words.outperformer_words(name, auc, self.baseline_auc) for name, auc in self.outperformers.items()]
        out += [f"{words.feature_words(name)}: missing on {n:,} tickets, kept (the logistic model fills the training "
                "median and marks the gap, the trees give the gap its own branch)" for name, n in self.gaps.items()]
        return out + self.assumptions()

    def assumptions(self) -> list[str]:
        """What the validation and the scenarios assume, in words."""
        return words.assumptions(self)

    def findings(self, truth: dict | None = None) -> Findings:
        """Its conclusions in words (:mod:`study.predict.findings`)."""
        return words.findings(self, truth)

    def difference(self) -> str:
        """One paragraph: what the predictive model answers, and what the causal one answers."""
        return words.DIFFERENCE

    def table(self) -> pd.DataFrame | Skipped:
        """Both models on the test months: AUC with its interval, Brier score, first tenth's share."""
        if self.skipped:
            return Skipped("the predictive model", self.skipped)
        level = f"{1 - self.alpha:.0%} CI"
        rows = [{"model": NAMES[k], "AUC": s.discrimination.auc, f"AUC {level}": f"{s.discrimination.low:.3f} to {s.discrimination.high:.3f}",
                 "Brier score": s.brier, "Brier of the base rate": self.base_rate * (1 - self.base_rate),
                 "least-likely tenth's share of non-returners": s.first_tenth} for k, s in self.models.items()]
        return pd.DataFrame(rows).set_index("model")

    def ceiling_table(self, truth: dict | None = None) -> pd.DataFrame | Skipped:
        """On simulated data: the models' AUC beside the true probabilities' (attainable at contact, and the oracle's)."""
        if self.skipped:
            return Skipped("the AUC ceilings", self.skipped)
        if not truth or "repeat_auc_ceiling_at_contact" not in truth:
            return Skipped("the AUC ceilings", "the data is not a simulation whose true probabilities are known")
        rows = [(f"{NAMES[k]} (test months)", s.discrimination.auc,
                 "what this model reaches on customers and months it has not seen") for k, s in self.models.items()]
        rows.append(("attainable ceiling (all tickets)", truth["repeat_auc_ceiling_at_contact"],
                     "the true probability given only what is known at the contact: no model of these features does better"))
        if "repeat_auc_ceiling" in truth:
            rows.append(("oracle (all tickets)", truth["repeat_auc_ceiling"],
                         ("the true probability given everything, including the CSAT a non-respondent would have given "
                          "and each customer's own propensity to buy, which no data shows")))
        return pd.DataFrame(rows, columns=["AUC of", "AUC", "what it is"]).set_index("AUC of")

    def split_table(self) -> pd.DataFrame | Skipped:
        """Training and test months, tickets and customers on each side."""
        if self.split is None:
            return Skipped("the split into training and test months", self.skipped)
        frame = self.ledger.frame
        rows = []
        for side, index, months in (("training", self.split.train, self.split.train_months),
                                    ("test", self.split.test, self.split.test_months)):
            part = frame.loc[index]
            rows.append({"side": side, "months": f"{months[0]} to {months[-1]}", "tickets": len(part),
                         "customers": part["customer_id"].nunique(),
                         "bought again": float(part["repeat_purchase"].astype(bool).mean())})
        return pd.DataFrame(rows).set_index("side")

    def feature_table(self) -> pd.DataFrame | Skipped:
        """The features used, by kind, and those left out with the reason (none used when the model was skipped)."""
        if self.features is None:
            return Skipped("features", self.skipped)
        from study.predict.features import words as feature_words

        used = "no: the model was not fitted (see why above)" if self.skipped else "yes"
        rows = [{"feature": feature_words(n), "column": n, "kind": "number" if n in self.features.numeric else "category",
                 "used": used} for n in self.features.names]
        rows += [{"feature": n.split(": ", 1)[0], "column": "", "kind": "", "used": f"no: {n.split(': ', 1)[1]}"}
                 for n in self.features.left_out]
        return pd.DataFrame(rows).set_index("feature")

    def calibration(self, kind: str = "boosted") -> pd.DataFrame | Skipped:
        """Mean predicted probability beside the observed rate in ten groups of test tickets."""
        if self.skipped:
            return Skipped("calibration", self.skipped)
        return metrics.calibration(self.y_test, self.models[kind].probability)

    def gains(self, kind: str = "boosted") -> pd.DataFrame | Skipped:
        """Test tickets in tenths from least to most likely to buy again, with each tenth's share of non-returners."""
        if self.skipped:
            return Skipped("gains", self.skipped)
        return metrics.gains(self.y_test, self.models[kind].probability)

    def importance_table(self) -> pd.DataFrame | Skipped:
        """Permutation importance of the boosted model on the test months (predictive, not causal)."""
        if self.skipped:
            return Skipped("permutation importance", self.skipped)
        return self.importance

    def scenario_table(self) -> pd.DataFrame | Skipped:
        """The repeat-purchase rate under faster first responses: adjusted model, naive comparison, SLA experiment."""
        if isinstance(self.scenarios, Skipped) or self.scenarios is None:
            return self.scenarios or Skipped("scenarios", "not computed")
        from study.predict.scenario_words import scenario_summary

        return scenario_summary(self.scenarios.table())

    def speed_table(self) -> pd.DataFrame | Skipped:
        """Per doubling of the wait: naive, adjusted and randomized estimates, their difference, what each answers."""
        if isinstance(self.scenarios, Skipped) or self.scenarios is None:
            return self.scenarios or Skipped("scenarios", "not computed")
        from study.predict.scenario_words import speed_table

        return speed_table(self.scenarios)

    def sensitivity_table(self) -> pd.DataFrame | Skipped:
        """Robustness values of the adjusted slope and the slope with a hidden factor as strong as each variable held fixed."""
        if isinstance(self.scenarios, Skipped) or self.scenarios is None:
            return self.scenarios or Skipped("scenarios", "not computed")
        found = self.scenarios.sensitivity
        return found if isinstance(found, Skipped) else found.table()
