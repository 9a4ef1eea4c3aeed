"""Articles -> features: tokens, TF-IDF vectors, shingle hashes, MinHash signatures.

Each article is tokenised once; the same tokens feed the TF-IDF vectors and the
shingles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from .articles import Article
from .settings import Settings
from .similarity import minhash_signatures, shingle_hashes
from .text import STOP_WORDS, hash_strings, tokenize

__all__ = ["Features", "build_features"]


@dataclass(frozen=True)
class Features:
    """What the later stages need to know about each article, as arrays.

    Attributes
    ----------
    tfidf : scipy.sparse.csr_matrix, shape (n, n_terms)
        L2-normalised TF-IDF rows over title (counted ``title_weight`` times) and text.
    terms : ndarray of str, shape (n_terms,)
        The vocabulary, in column order.
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
    """

    tfidf: sp.csr_matrix
    terms: npt.NDArray[np.str_]
    signatures: npt.NDArray[np.uint32]
    has_shingles: npt.NDArray[np.bool_]
    titles: list[str]
    days: npt.NDArray[np.float64]
    lengths: npt.NDArray[np.int64]


def _identity(tokens: list[str]) -> list[str]:
    """Analyzer for pre-tokenised documents."""
    return tokens


def build_features(articles: Sequence[Article], settings: Settings) -> Features:
    """Tokenise each article once and derive all features from those tokens."""
    n = len(articles)
    title_tokens = [tokenize(a.title) for a in articles]
    text_tokens = [tokenize(a.text) for a in articles]
    all_tokens = [t + x for t, x in zip(title_tokens, text_tokens)]

    # TF-IDF: content words, the headline counted title_weight times.
    stop = STOP_WORDS
    docs = [
        [w for w in t if w not in stop] * settings.title_weight + [w for w in x if w not in stop]
        for t, x in zip(title_tokens, text_tokens)
    ]
    if any(docs):
        vec = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, dtype=np.float64)
        tfidf = sp.csr_matrix(vec.fit_transform(docs))
        terms = np.asarray(vec.get_feature_names_out(), dtype=str)
    else:
        tfidf = sp.csr_matrix((n, 0))
        terms = np.zeros(0, dtype=str)

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
        signatures=signatures,
        has_shingles=np.diff(sh_off) > 0,
        titles=[" ".join(w for w in t if w not in stop) for t in title_tokens],
        days=days,
        lengths=lengths,
    )
