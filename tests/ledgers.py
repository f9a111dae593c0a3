"""Row ledgers as the results files hold them, for tests that check every row is accounted for."""


def all_ledgers(rows):
    """Every row ledger (``{"in", "used", "dropped"}``) in an analysis's ``rows``, however nested."""
    if isinstance(rows, dict) and {"in", "used"} <= set(rows):
        yield rows
    elif isinstance(rows, dict):
        for value in rows.values():
            yield from all_ledgers(value)
