"""Out-of-sample validation ordered in time and grouped by customer: train on the earlier months, test on the later.

A model judged on the tickets it learnt from looks better than it is; one judged on a random split
of tickets looks better still when the same customer sits on both sides (it recognises the
customer, not the experience). Here the model learns from the earlier calendar months and is judged
on the last ``test_months``, and a customer with any ticket in the training months is left out of
the test months altogether (counted in the ledger with that reason), so no customer is on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from study.core.accounting import RowLedger

MIN_TEST_CUSTOMERS = 100  # fewer test customers give an AUC interval too wide to say anything
MIN_CLASS = 20  # tickets of the rarer outcome on either side


@dataclass
class Split:
    """Which tickets train and which test.

    Attributes
    ----------
    train, test : pandas.Index
        Index labels of the training and test tickets.
    train_months, test_months : list of str
        Calendar months (``YYYY-MM``) on each side.
    ledger : RowLedger
        Tickets in, set aside by reason (no outcome, no time, the training customers' later tickets), used.
    """

    train: pd.Index
    test: pd.Index
    train_months: list[str]
    test_months: list[str]
    ledger: RowLedger


def usable(tickets: pd.DataFrame, set_aside: dict[str, int] | None = None) -> RowLedger:
    """A ledger of the tickets with an outcome, a creation time and a customer."""
    ledger = RowLedger(tickets, set_aside)
    ledger.keep(tickets["repeat_purchase"].notna(), "no repeat-purchase outcome")
    ledger.keep(pd.to_datetime(ledger.frame["created_at"]).notna(), "no creation time")
    ledger.keep(ledger.frame["customer_id"].notna(), "no customer id")
    return ledger


def months_of(tickets: pd.DataFrame) -> pd.Series:
    """Each ticket's calendar month as ``YYYY-MM``."""
    return pd.to_datetime(tickets["created_at"]).dt.strftime("%Y-%m")


def split(ledger: RowLedger, test_months: int) -> Split | str:
    """Train on every month but the last ``test_months``, test on those, customers of the training months left out.

    Returns
    -------
    Split, or the reason in words why the data cannot be split (fewer months than ``test_months + 1``,
    too few test customers, one outcome only on a side).
    """
    frame = ledger.frame
    month = months_of(frame)
    months = sorted(month.unique())
    if len(months) < 2:
        return (f"the tickets span {len(months)} calendar month{'s' if len(months) != 1 else ''} "
                f"({', '.join(months) or 'none'}): validation ordered in time needs earlier months to learn from and later "
                "ones to test on")
    if len(months) <= test_months:
        return (f"the tickets span {len(months)} calendar months, no more than the {test_months} test month(s) asked for: "
                "no month is left to learn from")
    cut = months[-test_months]
    in_train = (month < cut).to_numpy()
    # Customers by integer code: a membership test on codes is far faster than isin on text ids.
    codes, customers = pd.factorize(frame["customer_id"])
    in_training = np.zeros(len(customers) + 1, dtype=bool)  # the last slot for a missing id (code -1): never seen
    in_training[codes[in_train & (codes >= 0)]] = True
    seen = in_training[codes] & ~in_train
    ledger.keep(pd.Series(~seen, index=frame.index),
                "test-month ticket of a customer already seen in the training months (no customer on both sides)")
    kept = ledger.frame
    kept_train = (months_of(kept) < cut).to_numpy()
    train, test = kept.index[kept_train], kept.index[~kept_train]
    customers = kept.loc[test, "customer_id"].nunique()
    if customers < MIN_TEST_CUSTOMERS:
        return (f"only {customers} customer(s) in the test months who were not seen before (at least "
                f"{MIN_TEST_CUSTOMERS} are needed for an interval that says something)")
    for side, rows in (("training", train), ("test", test)):
        counts = kept.loc[rows, "repeat_purchase"].astype(bool).value_counts()
        rare = int(min(counts.get(True, 0), counts.get(False, 0)))
        if rare < MIN_CLASS:
            which = "bought again" if counts.get(True, 0) < counts.get(False, 0) else "did not buy again"
            return (f"only {rare} {side} ticket(s) after which the customer {which} (at least {MIN_CLASS} of each "
                    "outcome are needed on each side)")
    return Split(train, test, [m for m in months if m < cut], [m for m in months if m >= cut], ledger)
