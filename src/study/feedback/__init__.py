"""What customers write: themes of their comments by lexicon and discovered, how common, and with what they go.

::

    import study.feedback

    result = study.feedback.analyse(data, alpha=0.05, columns_path=None, discovered_themes=8, seed=2026)
    result.findings()          # how many wrote, each theme's share, where it is common, with what it goes
    result.table()             # each theme's share and its association with CSAT and repeat purchase
    result.band_table()        # shares by first response band; result.resolution_table() by resolution
    result.topics()            # discovered topics: top terms and short examples
    result.ledger.table()      # tickets in, without a comment, comments analysed

Modules: :mod:`~study.feedback.lexicon` (terms, matching, negation), :mod:`~study.feedback.discover`
(TF-IDF + NMF), :mod:`~study.feedback.prevalence` (shares, Wilson intervals, bands),
:mod:`~study.feedback.association` (adjusted differences, Holm/BH), :mod:`~study.feedback.findings`,
:mod:`~study.feedback.privacy` (personal data masked in the examples shown),
:mod:`~study.feedback.result` and :mod:`~study.feedback.plots`.
"""

from importlib import import_module

from study.feedback.analysis import COLUMNS, WITHOUT_COMMENT, analyse
from study.feedback.lexicon import DELIVERY_THEMES, NEGATIONS, STARTER_THEMES, Lexicon
from study.feedback.result import ANALYSIS, FeedbackAnalysis

__all__ = ["ANALYSIS", "COLUMNS", "DELIVERY_THEMES", "FeedbackAnalysis", "Lexicon", "NEGATIONS", "STARTER_THEMES",
           "WITHOUT_COMMENT", "analyse", "plots"]


def __getattr__(name: str):
    # The figure loads matplotlib: only when a notebook asks for it.
    if name == "plots":
        return import_module("study.feedback.plots")
    raise AttributeError(f"module 'study.feedback' has no attribute '{name}'")
