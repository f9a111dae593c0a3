"""Themes nobody declared: TF-IDF and non-negative matrix factorization (NMF) through scikit-learn.

Each sentence of the comments becomes a TF-IDF vector of words (scripts written with spaces) or of character
2-3-grams (Chinese and Japanese, written without spaces, when most letters are such characters); NMF
with a fixed seed splits the sentences x terms matrix into ``k`` topics, each a weighted set of terms;
a comment weighs on a topic as much as its sentence that weighs most on it.
A topic is shown with its top terms and a few short example comments (the comments it weighs most).
Topics are patterns of co-occurring words, not meanings: a reader names them, and a different seed or
``k`` can split or merge them.

Before the text is cut into terms, markup is taken out (HTML tags, and the content of ``script`` and ``style``
elements) and personal data is masked and dropped (:func:`study.feedback.privacy.mask_personal`: e-mail and web
addresses, phone, order and card numbers), and terms made only of digits are not kept: a topic's top terms name
what customers write about, not who they are or what a form pasted. Names written in words stay.
With more than :data:`MAX_COMMENTS` comments, topics are found among a random sample of that many (drawn with
the seed): topics are patterns shared by many comments, which a sample of this size holds, and the factorization's
time grows with every sentence.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from study.core.bidi import joined
from study.feedback.lexicon import MAX_CHARACTERS, cjk_share, normalize
from study.feedback.privacy import EMAIL, LINK, NUMBER, mask_personal

MIN_COMMENTS = 50  # fewer comments than this give topics that are single comments, not themes
TOP_TERMS = 8
EXAMPLES = 3
EXAMPLE_CHARACTERS = 80
CJK_TEXT = 0.5  # share of CJK letters above which the text is cut into characters, not words
# A planted theme and its topic: a point-biserial correlation this large is many standard errors from chance
# with a few hundred comments (its SE under no relation is about 1/sqrt(n)).
MIN_CORRELATION = 0.2
MAX_COMMENTS = 20_000  # comments discovery reads at most (a seeded random sample beyond): a few seconds of NMF
MAX_TERMS = 3000  # the most frequent terms kept: topics are told apart by common words, and KL-NMF slows with each term
# Function words of English and Portuguese: frequent everywhere, they would make every topic alike.
STOP_WORDS = frozenset("""
a an the and or but if of to in on at for from by with about as into than then so very too it its is are was were be
been being am i me my we our you your he she they them his her their this that these those there here what which who
whom do does did done have has had will would can could should just also again all any some more most much my
o a os as um uma uns umas e ou mas se de do da dos das em no na nos nas por pelo pela para com que é foi era ser
estar está estava eu meu minha você seu sua ele ela eles elas isso isto este esta muito mais me te lhe
""".split())


@dataclass
class Discovery:
    """Topics found in the comments.

    Attributes
    ----------
    topics : pandas.DataFrame
        One row per topic: ``top terms`` (comma-separated), ``comments`` (how many comments have it as
        their main topic), ``examples`` (short, on one line; the display escapes them).
    weights : numpy.ndarray, shape (comments, k)
        Each comment's weight on each topic (NMF's W).
    terms : list of list of str
        Each topic's terms, heaviest first (:data:`TOP_TERMS` of them).
    analyzer : str
        ``words`` or ``characters``: how the text was cut.
    index : pandas.Index
        The index in the data of the comments discovery read (all, or the sample).
    sampled_from : int
        How many comments there were: more than ``len(index)`` when topics were found in a sample.
    """

    topics: pd.DataFrame
    weights: np.ndarray
    terms: list[list[str]]
    analyzer: str
    index: pd.Index
    sampled_from: int = 0

    @property
    def sampled(self) -> bool:
        """Whether the topics come from a random sample of the comments."""
        return self.sampled_from > len(self.index)


_MARKUP = re.compile(r"<(script|style)\b[^>]*>.*?(?:</\1\s*>|$)|<!--.*?(?:-->|$)|</?[a-z][^<>]*>",
                     re.IGNORECASE | re.DOTALL)
_MASKS = re.compile("|".join(re.escape(m) for m in (EMAIL, LINK, NUMBER)))


def readable(text: str) -> str:
    """A comment without markup and without what looks like personal data: the text topics are found in.

    Entities are decoded first (``&lt;b&gt;`` is a tag), tags become spaces, a ``script`` or ``style`` element goes
    with its content, and :func:`~study.feedback.privacy.mask_personal`'s masks are dropped, so that neither an
    address, a number nor a mask word (``email``, ``number``) becomes a term.
    """
    text = _MARKUP.sub(" ", html.unescape(str(text)))
    return _MASKS.sub(" ", mask_personal(text))


def _characters_only(text: str) -> str:
    # Chinese text in character n-grams: drop punctuation and spaces, which would pair up with characters.
    return "".join(c for c in normalize(text) if c.isalnum())


def character_terms(text: str) -> list[str]:
    """The character 2- and 3-grams of a CJK sentence, leaving out those made only of digits (prices, times)."""
    text = _characters_only(text)
    grams = [text[i:i + n] for n in (2, 3) for i in range(len(text) - n + 1)]
    return [g for g in grams if not g.isdigit()]


_NEGATED = re.compile(r"\b(not|no|never|não|nao|nem|nunca|sem|\w+n't)\s+(?:(?:very|so|too|at|all|muito|tão)\s+)?(\w+)")


def mark_negations(text: str) -> str:
    """Normalized text with a negation glued to the word it negates (``not slow`` -> ``not_slow``).

    "The reply was not slow" and "the reply was slow" then share no term about slowness, so a topic of
    complaints about slow replies does not gather the comments that deny it.
    """
    return _NEGATED.sub(lambda m: f"not_{m.group(2)}", normalize(text))


_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;\n])\s*")


def split_sentences(texts: pd.Series) -> pd.Series:
    """The sentences of each text, indexed by the text's position (0, 1, ...); empty pieces left out.

    Topics are found among sentences: a comment that names two themes in two sentences ("The reply was
    slow. The agent was rude.") would otherwise tie them into one topic.
    """
    pieces = [(i, piece.strip()) for i, t in enumerate(texts) for piece in _SENTENCE_END.split(t)]
    kept = [(i, p) for i, p in pieces if any(c.isalnum() for c in p)]
    return pd.Series([p for _, p in kept], index=[i for i, _ in kept], dtype=object)


def vectorizer(cjk: bool, comments: int):
    """The TF-IDF vectorizer for this text (characters for CJK text, words otherwise)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    # Terms in fewer than two comments cannot make a shared theme; terms in most comments tell nothing apart.
    common = dict(min_df=2 if comments < 500 else 3, max_df=0.5, sublinear_tf=True, max_features=MAX_TERMS)
    if cjk:
        return TfidfVectorizer(analyzer=character_terms, **common)
    # Words of two characters or more, not only digits (a price, an hour, what is left of a masked number).
    return TfidfVectorizer(analyzer="word", ngram_range=(1, 1), preprocessor=mark_negations,
                           token_pattern=r"(?u)\b(?!\d+\b)\w\w+\b", stop_words=sorted(STOP_WORDS), **common)


def example(text: str, limit: int = EXAMPLE_CHARACTERS) -> str:
    """A comment on one line, personal data masked, shortened to ``limit`` characters (an ellipsis marks the cut).

    E-mail and web addresses and long digit runs (phone, order, card numbers) become ``[email]``, ``[link]``,
    ``[number]`` (:func:`study.feedback.privacy.mask_personal`) before the cut, so no cut leaves half an
    address. Left as text: the table display escapes every cell (:func:`study.report.html_table.table_html`), and
    findings escape through :func:`study.core.words.text`; escaping here would show ``&lt;`` to readers.
    """
    # Masked before the cut; read only the start, since an example shows at most ``limit`` characters.
    text = " ".join(mask_personal(str(text)[: 4 * limit]).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def largest_first(values: np.ndarray, digits: int = 9) -> np.ndarray:
    """Positions of ``values`` from the largest down; values equal to ``digits`` significant digits (of the
    largest) keep their order.

    The factorization's weights differ in their last bits from one processor to another (its vector
    instructions add in another order), and identical comments weigh the same: ranked by the raw bits, the
    examples and the order of near-equal terms changed with the machine.
    """
    values = np.asarray(values, dtype=float)
    scale = np.abs(values).max() if values.size else 0.0
    rounded = np.round(values / scale, digits) if scale > 0 else values
    return np.argsort(-rounded, kind="stable")


def discover(comments: pd.Series, k: int = 6, seed: int = 2026) -> Discovery:
    """Find ``k`` topics in ``comments`` with TF-IDF and NMF.

    Parameters
    ----------
    comments : pandas.Series of str
        Non-empty comments (at least :data:`MIN_COMMENTS`); past :data:`MAX_COMMENTS`, a random sample of
        that many is read.
    k : int
        Number of topics (2 to 30).
    seed : int
        Seed of the sample and of NMF's initialization, so the same data gives the same topics.

    Returns
    -------
    Discovery

    Raises
    ------
    ValueError
        Fewer than ``MIN_COMMENTS`` comments, fewer distinct ones than ``k``, or fewer shared
        terms than ``k``; the message is the reason the analysis shows when it skips the section.
    """
    from sklearn.decomposition import NMF

    if len(comments) < MIN_COMMENTS:
        raise ValueError(f"{len(comments)} comments; topic discovery needs at least {MIN_COMMENTS}")
    sampled_from = len(comments)
    if sampled_from > MAX_COMMENTS:  # kept in the data's order, so the sample alone decides the result
        comments = comments.iloc[np.sort(np.random.default_rng(seed).choice(sampled_from, MAX_COMMENTS, replace=False))]
    # Only the start of a very long comment is read (as by the lexicon), so one pasted page cannot hold up the run.
    texts = comments.astype(str).str.slice(0, MAX_CHARACTERS)
    distinct = texts.str.strip().nunique()
    if distinct < k:  # the same text pasted by everyone, or a handful of form answers: fewer texts than topics
        raise ValueError(f"the {len(texts)} comments hold only {distinct} distinct text{'s' if distinct != 1 else ''}; "
                         f"{k} topics need at least {k}")
    # Masked before the text is cut into sentences: the dots of an address would cut it into words.
    cleaned = texts.map(readable)
    cjk = cjk_text(cleaned)
    sentences = split_sentences(cleaned)
    tfidf = vectorizer(cjk, len(sentences))
    try:
        matrix = tfidf.fit_transform(sentences.tolist())
    except ValueError:  # scikit-learn's "empty vocabulary" or "no terms remain", in the reader's words
        raise ValueError("no word (or pair of characters) is shared by two sentences or more without being in more "
                         "than half of them: the comments are alike or share nothing") from None
    vocabulary = tfidf.get_feature_names_out()
    if len(vocabulary) < k:
        raise ValueError(f"the comments share only {len(vocabulary)} terms (used in two sentences or more); "
                         f"{k} topics need more")
    # Kullback-Leibler loss: on short texts it gives crisper topics than least squares, which lets a frequent
    # word (agent, reply) pull unrelated sentences into one topic.
    # A tolerance of 1e-3 stops after some 30 updates with the topics a tighter one reaches in 120.
    model = NMF(n_components=k, init="nndsvda", beta_loss="kullback-leibler", solver="mu", random_state=seed,
                max_iter=600, tol=1e-3)
    by_sentence = model.fit_transform(matrix)
    # A comment weighs on a topic as much as its sentence that weighs most on it.
    weights = (pd.DataFrame(by_sentence).groupby(sentences.index.to_numpy()).max()
               .reindex(range(len(texts)), fill_value=0.0).to_numpy())
    # Only terms the topic really uses: past them argsort would list zero weights in arbitrary order.
    terms = [[vocabulary[j] for j in largest_first(row)[:TOP_TERMS] if row[j] > 0.01 * row.max()]
             for row in model.components_]
    main = weights.argmax(axis=1)
    has_topic = weights.max(axis=1) > 0
    rows = []
    for topic in range(k):
        mine = np.flatnonzero(has_topic & (main == topic))
        # Examples: the distinct comments weighing most on the topic, among those it is the main topic of.
        ranked = mine[largest_first(weights[mine, topic])]
        shown = texts.iloc[ranked].drop_duplicates().head(EXAMPLES).tolist()
        rows.append({"topic": topic + 1, "top terms": joined(terms[topic], ", "),
                     "comments": len(mine), "examples": joined((example(t) for t in shown), " | ")})
    table = pd.DataFrame(rows).set_index("topic")
    return Discovery(table, weights, terms, "characters" if cjk else "words", comments.index, sampled_from)


def match_planted(discovery: Discovery, truth: pd.DataFrame, signatures: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """Which topic stands for each planted theme, and whether its top terms carry the theme's words.

    A theme's topic is the one whose weights correlate most with the theme's true indicator over the
    comments (Pearson correlation of W's column with the 0/1 truth). The theme counts as found when that
    correlation is at least :data:`MIN_CORRELATION` and one of the theme's signature words is among the topic's top terms.

    Parameters
    ----------
    discovery : Discovery
    truth : pandas.DataFrame
        One boolean column per planted theme, indexed like the comments discovered.
    signatures : dict
        Theme -> words of its templates that mark it (e.g. ``slow_reply: (slow, waited, ages)``).

    Returns
    -------
    pandas.DataFrame
        Per theme: ``topic``, ``correlation``, ``signature in top terms``, ``found``.
    """
    truth = truth.loc[discovery.index]
    rows = []
    for theme in truth.columns:
        y = truth[theme].to_numpy(dtype=float)
        if y.std() == 0:
            rows.append({"theme": theme, "topic": None, "correlation": np.nan, "signature in top terms": False,
                         "found": False})
            continue
        spread = discovery.weights.std(axis=0)
        corr = np.array([np.corrcoef(discovery.weights[:, j], y)[0, 1] if spread[j] > 0 else -1.0
                         for j in range(discovery.weights.shape[1])])
        best = int(np.nanargmax(corr))
        words = {w for term in discovery.terms[best] for w in term.split()}
        signed = bool(words & {normalize(s) for s in signatures.get(theme, ())})
        rows.append({"theme": theme, "topic": best + 1, "correlation": float(corr[best]),
                     "signature in top terms": signed, "found": bool(corr[best] >= MIN_CORRELATION and signed)})
    return pd.DataFrame(rows).set_index("theme")


def cjk_text(comments: pd.Series) -> bool:
    """Whether the comments are mostly CJK characters (then cut into characters)."""
    return cjk_share(comments.astype(str).head(2000).str.slice(0, MAX_CHARACTERS)) > CJK_TEXT

