"""What the later stages know of each article (:class:`Features`), and boilerplate lines.

The features are built by :mod:`storyclust.stages` (:func:`~storyclust.stages.corpus_features`):
each article is tokenised and hashed once, and the same token hashes feed the
shingles, the TF-IDF vectors and the names.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from .articles import Article
from .similarity import hash_raw_text, raw_words, strip_line_hashes
from .text import hash_strings, normalize, tokenize

__all__ = [
    "Features",
    "find_boilerplate",
    "line_hash",
    "strip_line_hashes_py",
    "strip_lines",
    "strip_texts",
    "term_strings",
    "utf8",
]


@dataclass(frozen=True)
class Features:
    """What the later stages need to know about each article, as arrays.

    Attributes
    ----------
    tfidf : scipy.sparse.csr_matrix of float32, shape (n, n_terms)
        L2-normalised TF-IDF rows over title (counted ``title_weight`` times), lead (the
        first ``lead_words`` content words of the text, counted ``lead_weight`` more
        times) and text.
    term_hashes : ndarray of uint64, shape (n_terms,)
        The vocabulary as token hashes (:func:`storyclust.text.hash_strings`),
        ascending: the column order. :func:`term_strings` gives the words.
    names : scipy.sparse.csr_matrix of float32, shape (n, n_names)
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
    boilerplate : frozenset of int
        Hashes (:func:`storyclust.text.hash_strings`) of the normalised lines taken
        out of the texts as boilerplate; :func:`line_hash` hashes a line so.
    """

    tfidf: sp.csr_matrix
    term_hashes: npt.NDArray[np.uint64]
    names: sp.csr_matrix
    signatures: npt.NDArray[np.uint32]
    has_shingles: npt.NDArray[np.bool_]
    titles: list[str]
    days: npt.NDArray[np.float64]
    lengths: npt.NDArray[np.int64]
    boilerplate: frozenset[int] = frozenset()


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


def line_hash(line: str) -> int:
    """The hash boilerplate is kept as: ``hash_strings([normalize(line)])``, as an int.

    Examples
    --------
    >>> line_hash("Related  ARTICLES") == line_hash("related articles")
    True
    """
    return int(hash_strings([normalize(line)])[0])


def strip_line_hashes_py(text: str, lines: frozenset[int]) -> str:
    """`text` without the lines whose :func:`line_hash` is in `lines` (the rest joined by newlines).

    The plain twin of :func:`storyclust.similarity.strip_line_hashes`, for texts it
    does not cover.
    """
    if not lines:
        return text
    raw = text.splitlines()
    norms = [normalize(x) for x in raw]
    hashes = hash_strings(norms).tolist()
    return "\n".join(x for x, nm, h in zip(raw, norms, hashes) if not (nm and h in lines))


def utf8(parts: Sequence[str]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Strings as one UTF-8 byte array and the offsets of each."""
    enc = [p.encode("utf-8", "surrogatepass") for p in parts]
    offsets = np.zeros(len(enc) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, enc), dtype=np.int64, count=len(enc)), out=offsets[1:])
    return np.frombuffer(b"".join(enc), dtype=np.uint8), offsets


def strip_texts(texts: list[str], boilerplate: frozenset[int]) -> list[str]:
    """The texts without their boilerplate lines (given as :func:`line_hash` values).

    The compiled :func:`storyclust.similarity.strip_line_hashes` does the work;
    :func:`strip_line_hashes_py` the texts it does not cover. Without boilerplate
    the texts come back untouched.
    """
    if not boilerplate:
        return texts
    data, offsets = utf8(texts)
    table = np.array(sorted(boilerplate), dtype=np.uint64)
    out, off, ok = strip_line_hashes(data, offsets, table)
    raw = out.tobytes()
    return [
        raw[off[d] : off[d + 1]].decode("utf-8", "surrogatepass")
        if ok[d]
        else strip_line_hashes_py(texts[d], boilerplate)
        for d in range(len(texts))
    ]


#: Articles tokenised again at a time by :func:`term_strings`.
_WORD_ROWS = 2_048
#: Rows scanned at a time by :func:`_first_rows` (bounds its temporary arrays).
_SCAN_ROWS = 16_384


def _first_rows(x: sp.csr_matrix, cols: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """For each column in `cols`, the first row of `x` that has an entry in it.

    Reads the matrix a block of rows at a time and stops once every column is
    found: neither a column slice nor a copy of the matrix (at a million articles
    that slice took 5 GB).

    Raises
    ------
    ValueError
        If a column is used by no row.
    """
    x = sp.csr_matrix(x)
    missing = np.zeros(x.shape[1], dtype=bool)
    missing[cols] = True
    first = np.full(x.shape[1], -1, dtype=np.int64)
    left = int(missing.sum())
    for lo in range(0, x.shape[0], _SCAN_ROWS):
        if not left:
            break
        hi = min(x.shape[0], lo + _SCAN_ROWS)
        start = int(x.indptr[lo])
        seg = x.indices[start : x.indptr[hi]]
        hit = np.flatnonzero(missing[seg])
        if not len(hit):
            continue
        found, at = np.unique(seg[hit], return_index=True)  # each column's first entry here
        first[found] = np.searchsorted(x.indptr, start + hit[at], side="right") - 1
        missing[found] = False
        left -= len(found)
    if left:
        raise ValueError("a column is used by no article")
    out: npt.NDArray[np.int64] = first[cols]
    return out


def term_strings(
    features: Features,
    columns: npt.ArrayLike,
    articles: Sequence[Article],
) -> list[str]:
    """The words of TF-IDF columns, found again in the articles that use them.

    The vocabulary is kept as hashes; the few words a caller shows (keywords) are
    recovered by tokenising one article that holds each (the articles in the
    features' row order, boilerplate stripped as it was).

    Parameters
    ----------
    features : Features
    columns : array of int
    articles : sequence of Article
        The articles of the features' rows, in that order.

    Returns
    -------
    list of str, one a column.
    """
    cols = np.asarray(columns, dtype=np.int64)
    if not len(cols):
        return []
    rows = np.unique(_first_rows(features.tfidf, cols))
    wanted = features.term_hashes[cols]
    out: list[str] = [""] * len(cols)
    missing = np.ones(len(cols), dtype=bool)
    # A few thousand articles at a time: their words are Python strings (a
    # million articles' keywords may need tens of thousands of articles).
    for lo in range(0, len(rows), _WORD_ROWS):
        chunk = rows[lo : lo + _WORD_ROWS].tolist()
        texts = strip_texts([articles[r].text for r in chunk], features.boilerplate)
        fields: list[str] = []
        for r, text in zip(chunk, texts):
            fields += [articles[r].title, text]
        data, offsets = utf8(fields)
        words, _, ok = raw_words(data, offsets)
        hashes, _, _ = hash_raw_text(data, offsets)
        for d in np.flatnonzero(~ok).tolist():  # texts the compiled tokeniser leaves to Python
            extra = tokenize(fields[d])
            words += extra
            hashes = np.concatenate([hashes, hash_strings(extra)])
        found, first = np.unique(hashes, return_index=True)
        if not len(found):
            continue
        at = np.minimum(np.searchsorted(found, wanted), len(found) - 1)
        hit = missing & (found[at] == wanted)
        for k in np.flatnonzero(hit).tolist():
            out[k] = words[int(first[at[k]])]
        missing &= ~hit
    if missing.any():
        raise ValueError("a term was not found again in its article")
    return out
