"""Articles -> features: tokens, TF-IDF vectors, shingle hashes, MinHash signatures.

Each article is tokenised once; the same tokens feed the TF-IDF vectors and the
shingles.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from .articles import Article
from .settings import Settings
from .similarity import minhash_signatures, shingle_hashes
from .text import STOP_WORDS, hash_strings, names_and_numbers, normalize, tokenize

__all__ = ["Features", "build_features", "find_boilerplate", "strip_lines"]


@dataclass(frozen=True)
class Features:
    """What the later stages need to know about each article, as arrays.

    Attributes
    ----------
    tfidf : scipy.sparse.csr_matrix, shape (n, n_terms)
        L2-normalised TF-IDF rows over title (counted ``title_weight`` times), lead (the
        first ``lead_words`` content words of the text, counted ``lead_weight`` more
        times) and text.
    terms : ndarray of str, shape (n_terms,)
        The vocabulary, in column order.
    names : scipy.sparse.csr_matrix, shape (n, n_names)
        L2-normalised TF-IDF rows over the names and figures of each article
        (:func:`storyclust.text.names_and_numbers`); an all-zero row where it has none.
    signatures : ndarray of uint32, shape (n, num_perm)
        MinHash signatures of the word shingles of title and text.
    has_shingles : ndarray of bool, shape (n,)
    titles : list of str
        Content words of each title, normalised and space-joined ("" where missing):
        what headline similarity compares.
    days : ndarray of float64, shape (n,)
        Publication time in days since the Unix epoch; NaN where unknown.
    lengths : ndarray of int64, shape (n,)
        Number of tokens of title and text.
    boilerplate : frozenset of str
        Normalised lines taken out of the texts as boilerplate.
    """

    tfidf: sp.csr_matrix
    terms: npt.NDArray[np.str_]
    names: sp.csr_matrix
    signatures: npt.NDArray[np.uint32]
    has_shingles: npt.NDArray[np.bool_]
    titles: list[str]
    days: npt.NDArray[np.float64]
    lengths: npt.NDArray[np.int64]
    boilerplate: frozenset[str] = frozenset()


def _identity(tokens: list[str]) -> list[str]:
    """Analyzer for pre-tokenised documents."""
    return tokens


def _tfidf(docs: list[list[str]], n: int) -> tuple[sp.csr_matrix, npt.NDArray[np.str_]]:
    """Sublinear-TF, L2-normalised TF-IDF of pre-tokenised documents, and its vocabulary."""
    if not any(docs):
        return sp.csr_matrix((n, 0)), np.zeros(0, dtype=str)
    vec = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, dtype=np.float64)
    return sp.csr_matrix(vec.fit_transform(docs)), np.asarray(
        vec.get_feature_names_out(), dtype=str
    )


def find_boilerplate(
    articles: Sequence[Article],
    *,
    min_articles: int = 3,
    max_words: int = 12,
    min_share: float = 0.01,
) -> frozenset[str]:
    """Learn the boilerplate lines of a corpus: lines that recur without being news.

    A line (normalised with :func:`storyclust.text.normalize`) is boilerplate if
    it is

    - repeated by one outlet in two or more of its articles (footers, bylines,
      newsletter pleas), or
    - short (at most `max_words` words) and found in at least `min_articles`
      articles ("Related Articles", "Comments", share buttons), or
    - found in at least ``max(50, min_share * n)`` articles, whatever its length.

    A wire story reprinted by several outlets keeps its paragraphs: they are long,
    and each outlet prints them once.

    Returns
    -------
    frozenset of str

    Examples
    --------
    >>> from storyclust import Article
    >>> arts = [Article(id=str(k), text=f"Story {k} text here.\\nRelated Articles", source=f"s{k}") for k in range(3)]
    >>> sorted(find_boilerplate(arts))
    ['related articles']
    """
    anywhere: Counter[str] = Counter()
    by_outlet: Counter[tuple[str, str]] = Counter()
    for a in articles:
        lines = {normalize(line) for line in a.text.splitlines()} - {""}
        anywhere.update(lines)
        if a.source:
            by_outlet.update((a.source, line) for line in lines)
    hub = max(50, int(min_share * len(articles)))
    found = {
        line
        for line, c in anywhere.items()
        if c >= hub or (c >= min_articles and len(line.split()) <= max_words)
    }
    found |= {line for (_, line), c in by_outlet.items() if c >= 2}
    return frozenset(found)


def strip_lines(text: str, lines: frozenset[str]) -> str:
    """`text` without the lines whose normalised form is in `lines`."""
    if not lines:
        return text
    return "\n".join(x for x in text.splitlines() if normalize(x) not in lines)


def build_features(articles: Sequence[Article], settings: Settings) -> Features:
    """Tokenise each article once and derive all features from those tokens."""
    n = len(articles)
    boiler = find_boilerplate(articles) if settings.strip_boilerplate else frozenset()
    texts = [strip_lines(a.text, boiler) for a in articles]
    title_tokens = [tokenize(a.title) for a in articles]
    text_tokens = [tokenize(t) for t in texts]
    all_tokens = [t + x for t, x in zip(title_tokens, text_tokens)]

    # TF-IDF: content words, the headline counted title_weight times.
    stop = STOP_WORDS
    docs = []
    for t, x in zip(title_tokens, text_tokens):
        body = [w for w in x if w not in stop]
        lead = body[: settings.lead_words] * settings.lead_weight
        docs.append([w for w in t if w not in stop] * settings.title_weight + lead + body)
    tfidf, terms = _tfidf(docs, n)

    names = _tfidf([names_and_numbers(t, title=a.title) for a, t in zip(articles, texts)], n)[0]

    # Shingles over every token (function words included: reprints keep them).
    lengths = np.fromiter((len(t) for t in all_tokens), dtype=np.int64, count=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    token_hashes = hash_strings([w for t in all_tokens for w in t])
    sh, sh_off = shingle_hashes(token_hashes, offsets, settings.shingle_size)
    signatures = minhash_signatures(sh, sh_off, num_perm=settings.num_perm, seed=settings.seed)

    days = np.array(
        [
            a.published.timestamp() / 86400.0 if a.published is not None else math.nan
            for a in articles
        ],
        dtype=np.float64,
    )
    return Features(
        tfidf=tfidf,
        terms=terms,
        names=names,
        signatures=signatures,
        has_shingles=np.diff(sh_off) > 0,
        titles=[" ".join(w for w in t if w not in stop) for t in title_tokens],
        days=days,
        lengths=lengths,
        boilerplate=boiler,
    )
