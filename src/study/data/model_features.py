"""The features a repeat-purchase model may be given, checked by name before any data is modelled.

The predictive model of notebook 09 learns from what is known when a customer contacts service. A
feature list given by hand is checked twice: here by name alone (so ``study run`` can refuse a bad list
before any notebook starts, without loading a model library), and in :mod:`study.predict.features` on
the training months' values (a column that separates the outcome nearly perfectly, an identifier
hidden under another name, a time). The names refused here:

- an empty list;
- a follow-up-window column (:data:`FOLLOW_UP`: whether, when and how much the customer bought again),
  which is measured after the contact and so leaks the outcome;
- a contract identifier (``ticket_id``, ``customer_id``, ``agent_id``): each value names one ticket,
  customer or agent, which the model would memorise instead of learning from the contact;
- a contract time column (``created_at``, ``adopted_at``): a time is no feature, a number made from
  it is (the built-in features already count the customer's earlier tickets and the days since them);
- the free-text ``comment`` (notebook 10 reads it);
- a built-in feature whose source column the data lacks, and a name that is neither a built-in
  feature nor a column (with the nearest name).
"""

from __future__ import annotations

from study.data.convert import nearest
from study.data.schema import COLUMNS, DataError

OUTCOME = "repeat_purchase"
# The follow-up window: what happened after the contact. Never a feature.
FOLLOW_UP = ("repeat_purchase", "days_to_next_purchase", "next_spend")
IDENTIFIERS = tuple(c.name for c in COLUMNS if c.kind == "id")
TIMES = tuple(c.name for c in COLUMNS if c.kind == "time")
FREE_TEXT = ("comment",)

# Built-in features: name -> (the contract columns it is made from, kind, words).
BUILT_IN = {
    "response_log2_hours": (("first_response_minutes",), "numeric", "first response time (log2 hours)"),
    "resolved": (("resolved",), "numeric", "resolved"),
    "reopened": (("reopened",), "numeric", "reopened"),
    "contacts": (("contacts",), "numeric", "contacts"),
    "resolution_log2_hours": (("resolution_minutes",), "numeric", "resolution time where resolved (log2 hours)"),
    "quality_score": (("quality_score",), "numeric", "quality score"),
    "earlier_tickets": (("customer_id", "created_at"), "numeric", "the customer's earlier tickets"),
    "days_since_previous": (("customer_id", "created_at"), "numeric", "days since the customer's previous ticket"),
    "tenure_days": (("tenure_days",), "numeric", "tenure (days)"),
    "prior_orders": (("prior_orders",), "numeric", "prior orders"),
    "log_pre_spend": (("pre_spend",), "numeric", "pre-period spend (log)"),
    "loyalty_tier": (("loyalty_tier",), "categorical", "loyalty tier"),
    "category": (("category",), "categorical", "category"),
    "channel": (("channel",), "categorical", "channel"),
    "csat": (("csat",), "numeric", "CSAT where answered"),
    "csat_answered": (("csat",), "numeric", "survey answered"),
}


def as_list(features: list[str] | tuple[str, ...] | str | None) -> list[str] | None:
    """A feature list as given: ``None`` stays ``None``, one name (a string) is a list of one, duplicates go.

    Raises
    ------
    study.data.schema.DataError
        An item that is not a name.
    """
    if features is None:
        return None
    items = [features] if isinstance(features, str) else list(features)
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise DataError(f"features: {item!r} is not a column or feature name; give names such as 'csat'")
    return list(dict.fromkeys(item.strip() for item in items))


def check_requested(features: list[str] | str | None, present: list[str]) -> None:
    """Refuse, by name alone, a feature list the repeat-purchase model cannot use.

    Parameters
    ----------
    features : list of str, str or None
        The requested features (built-in names or columns); one string is one feature; ``None`` (the
        built-in set) passes.
    present : list of str
        The columns of the data as the notebook loads it (after the column map; derived columns such as
        ``response_hours`` included).

    Raises
    ------
    study.data.schema.DataError
        One line naming the first feature refused and why.
    """
    names = as_list(features)
    if names is None:
        return
    if not names:
        raise DataError("features: the list is empty; give at least one feature, or none for the built-in set")
    columns = set(present)
    for name in names:
        if name in FOLLOW_UP:
            raise DataError(f"feature {name!r} is refused: it is measured in the follow-up window after the contact "
                            f"(whether and when the customer bought again), so it leaks the outcome")
        if name in IDENTIFIERS:
            raise DataError(f"feature {name!r} is refused: it is an identifier (each value names one "
                            f"{name.removesuffix('_id')}), which the model would memorise instead of learning from the contact")
        if name in TIMES:
            raise DataError(f"feature {name!r} is a time; give a number made from it (days since ...) instead")
        if name in FREE_TEXT:
            raise DataError(f"feature {name!r} is refused: it is free text (notebook 10 reads it); give a number or "
                            "a category made from it instead")
        if name in BUILT_IN:
            absent = [c for c in BUILT_IN[name][0] if c not in columns]
            if absent:
                raise DataError(f"feature {name!r} needs column {absent[0]!r}, which the data does not have")
        elif name not in columns:
            refused = {*FOLLOW_UP, *IDENTIFIERS, *TIMES, *FREE_TEXT}
            close = nearest(name, [c for c in [*columns, *BUILT_IN] if c not in refused])
            raise DataError(f"feature {name!r} is neither a column of the data nor a built-in feature"
                            + (f" (did you mean {close!r}?)" if close else f" ({', '.join(BUILT_IN)})"))
