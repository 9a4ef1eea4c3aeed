"""The streaming index's working state: features of new articles, and the articles in memory.

Private to :mod:`storyclust.index`. Features are derived as the batch pipeline
derives them (:func:`storyclust.stages.tokenize_batch`: the same tokens, stop
words, title and lead weights, names and figures, shingles and MinHash
signatures; ``tests/test_index.py`` checks that the signals agree), with the
compiled tokeniser of :mod:`storyclust.similarity`, and a hashed TF-IDF
vocabulary so that vectors need no refit as articles arrive.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ._index_kernels import (
    Segments,
    available_cpus,
    content_term_ids,
    keep_rows,
    key_fences,
    key_ranges,
    merge_postings,
    pair_scores,
    postings,
    remap_postings,
    segment,
    stop_bitmap,
    time_overs,
)
from ._index_kernels import term_counts as _term_counts
from .articles import Article
from .features import utf8
from .settings import Settings
from .similarity import (
    hash_raw_text,
    line_hashes,
    minhash_signatures,
    shingle_hashes,
    term_counts,
)
from .stages import article_names, boilerplate_rule
from .text import STOP_WORDS, hash_strings, normalize, tokenize

U8 = npt.NDArray[np.uint8]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
U16 = npt.NDArray[np.uint16]
U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
B1 = npt.NDArray[np.bool_]

TERM_BITS: Final = 20
N_TERMS: Final = 1 << TERM_BITS
SNIPPET: Final = 200
STOP_DIGEST: Final = hashlib.sha256("\n".join(sorted(STOP_WORDS)).encode()).hexdigest()[:16]
_STOP_HASHES: Final = np.sort(hash_strings(sorted(STOP_WORDS)))
_STOP_BITMAP: Final = stop_bitmap(_STOP_HASHES)
_NOT_A_TERM: Final = np.array([N_TERMS], dtype=np.uint64)  # what a stop word's term id becomes


@dataclass
class Batch:
    """Features of articles about to be added or queried (rows in input order).

    Term vectors are CSR pieces: row k holds ``idx[ptr[k]:ptr[k + 1]]`` (sorted
    hashed term ids) and their counts.
    """

    ids: list[str]
    tf_ptr: I64
    tf_idx: I32
    tf_cnt: U16
    nm_ptr: I64
    nm_idx: I32
    nm_cnt: U16
    sig: U32
    has_sh: B1
    titles: list[str]
    days: F64
    n_tokens: I64
    snippets: list[str]
    learned: dict[int, str]


def term_ids(hashes: U64) -> I64:
    """Hashed term ids in [0, 2**20).

    Examples
    --------
    >>> term_ids(hash_strings(["quake"])).tolist() == [int(hash_strings(["quake"])[0]) % 2**20]
    True
    """
    out: I64 = (hashes & np.uint64(N_TERMS - 1)).astype(np.int64)
    return out


def _counts(doc: I64, terms: I64, weight: I64, n: int, threads: int) -> tuple[I64, I32, U16]:
    """Per-document sorted term ids and summed weights, as CSR pieces (`doc` ascending)."""
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(doc, minlength=n), out=ptr[1:])
    ptr, idx, cnt = _term_counts(ptr, terms, weight, threads)
    return ptr, idx.astype(np.int32), np.minimum(cnt, 65535).astype(np.uint16)


def _tokens(docs: list[str], data: U8, offsets: I64, threads: int) -> tuple[U64, I64]:
    """Token hashes of each document (as ``hash_strings(tokenize(doc))``) and their offsets."""
    hashes, tok_off, ok = hash_raw_text(data, offsets, n_threads=threads)
    if ok.all():
        return hashes, tok_off
    # Text the compiled tokeniser does not cover: tokenise it in Python.
    parts: list[U64] = [
        hashes[tok_off[d] : tok_off[d + 1]] if ok[d] else hash_strings(tokenize(docs[d]))
        for d in range(len(docs))
    ]
    return _concat(parts)


def _concat(parts: list[U64]) -> tuple[U64, I64]:
    """Arrays concatenated, with their offsets."""
    sizes = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    out_off = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(sizes, out=out_off[1:])
    if not parts:
        return np.zeros(0, dtype=np.uint64), out_off
    return np.concatenate(parts).astype(np.uint64), out_off


def _normal(line: str) -> str:
    """:func:`storyclust.text.normalize`, without its regex and NFKC passes for ASCII lines."""
    if line.isascii():  # NFKC keeps ASCII; str.split() splits where the regex's \s matches
        return " ".join(line.casefold().split())
    return normalize(line)


def strip_known(text: str, known: frozenset[str], firsts: frozenset[str] | None = None) -> str:
    """`text` without the lines whose normalised form is in `known`.

    The result of :func:`storyclust.features.strip_lines`, faster on ASCII text:
    an ASCII line whose first two words (casefolded) start no known line is kept
    without normalising it. `firsts` (``first_words(known)``) saves computing
    those words on every call. (One word was not enough: the learned lines of a
    large index start with many common words, and most lines were normalised.)

    Examples
    --------
    >>> strip_known("Quake hits Tokyo\\nRelated  Articles", frozenset({"related articles"}))
    'Quake hits Tokyo'
    """
    if not known:
        return text
    if firsts is None:
        firsts = first_words(known)
    out = []
    for line in text.splitlines():
        if line.isascii() and " ".join(line.split(None, 2)[:2]).casefold() not in firsts:
            out.append(line)
            continue
        if _normal(line) not in known:
            out.append(line)
    return "\n".join(out)


def _line_hashes(texts: list[str]) -> tuple[U64, I64, I64]:
    """Hashes and word counts of the non-empty normalised lines of each text, and their offsets.

    By the compiled ``line_hashes``; texts it does not cover, line by line in Python.
    """
    data, off = utf8(texts)
    hashes, words, line_off, ok = line_hashes(data, off, n_threads=available_cpus())
    if ok.all():
        return hashes, words, line_off
    h_parts: list[U64] = []
    w_parts: list[I64] = []
    for d, text in enumerate(texts):
        if ok[d]:
            h_parts.append(hashes[line_off[d] : line_off[d + 1]])
            w_parts.append(words[line_off[d] : line_off[d + 1]])
            continue
        lines = [x for x in (normalize(x) for x in text.splitlines()) if x]
        h_parts.append(hash_strings(lines))
        w_parts.append(np.array([len(x.split()) for x in lines], dtype=np.int64))
    hashes, line_off = _concat(h_parts)
    return hashes, np.concatenate(w_parts).astype(np.int64), line_off


def distinct_pairs(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> I64:
    """Positions of the first of each distinct pair ``(a[i], b[i])``, in order of (a, b).

    Examples
    --------
    >>> distinct_pairs(np.array([1, 0, 1, 1]), np.array([5, 7, 2, 5])).tolist()
    [1, 2, 0]
    """
    order = np.lexsort((b, a))
    sa, sb = a[order], b[order]
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = (sa[1:] != sa[:-1]) | (sb[1:] != sb[:-1])
    out: I64 = order[first]
    return out


def learn_boilerplate(articles: Sequence[Article], known: frozenset[str]) -> dict[int, str]:
    """The lines of ``find_boilerplate(articles) - known``, keyed by ``hash_strings`` (as int64).

    :func:`storyclust.find_boilerplate` with its defaults, counting the lines by
    their hashes instead of as strings: only the lines found are normalised here.
    """
    n = len(articles)
    hashes, words, line_off = _line_hashes([a.text for a in articles])
    doc = np.repeat(np.arange(n, dtype=np.int64), np.diff(line_off))
    # Each line once an article (find_boilerplate counts a set of lines an article).
    at = distinct_pairs(doc, hashes)  # positions of the distinct (article, line) pairs
    h, d = hashes[at], doc[at]
    uniq, where, inverse, count = np.unique(
        h, return_index=True, return_inverse=True, return_counts=True
    )
    n_words = np.zeros(len(uniq), dtype=np.int64)
    n_words[inverse] = words[at]
    # Repeated by one outlet in two or more of its articles.
    outlets: dict[str, int] = {}
    src = np.array(
        [outlets.setdefault(a.source, len(outlets)) if a.source else -1 for a in articles]
    )
    has = src[d] >= 0
    pair = np.stack([src[d][has], inverse[has]])
    repeated = uniq[:0]
    if pair.shape[1]:
        pairs, twice = np.unique(pair, axis=1, return_counts=True)
        repeated = uniq[pairs[1][twice >= 2]]
    rule = boilerplate_rule(uniq.view(np.int64), n_words, count, repeated.view(np.int64), n)
    found = np.isin(uniq, np.fromiter(rule, dtype=np.uint64, count=len(rule)))
    # The strings: each found line normalised from the first article holding it.
    lines: dict[int, str] = {}
    by_doc: dict[int, list[str]] = {}
    for u in np.flatnonzero(found).tolist():
        k = int(where[u])
        dd = int(d[k])
        if dd not in by_doc:
            by_doc[dd] = [x for x in (normalize(x) for x in articles[dd].text.splitlines()) if x]
        text_lines = by_doc[dd]
        pos = at[k] - line_off[dd]  # its place among the article's non-empty lines
        lines[int(uniq[u])] = text_lines[int(pos)]
    new = sorted(line for line in lines.values() if line not in known)
    return dict(zip(hash_strings(new).view(np.int64).tolist(), new))


def first_words(known: frozenset[str]) -> frozenset[str]:
    """The first two words of each normalised line, as it spells them (fewer if it has fewer)."""
    return frozenset(" ".join(k.split(" ", 2)[:2]) for k in known)


def featurize(
    articles: Sequence[Article], settings: Settings, boiler: frozenset[str], *, learn: bool
) -> Batch:
    """Tokenise each article once and derive what the index stores about it.

    With ``strip_boilerplate``, the normalised lines in `boiler` are stripped, and
    with `learn` so are those :func:`storyclust.find_boilerplate` finds in these
    articles (returned in ``learned``, keyed by their hash, to be remembered).
    """
    n = len(articles)
    texts = [a.text for a in articles]
    learned: dict[int, str] = {}
    if settings.strip_boilerplate:
        if learn and n > 1:
            learned = learn_boilerplate(articles, boiler)
        known = boiler | frozenset(learned.values())
        if known:
            firsts = first_words(known)
            texts = [strip_known(t, known, firsts) for t in texts]
    docs: list[str] = []
    for a, t in zip(articles, texts):
        docs += [a.title, t]
    threads = available_cpus()
    data, doc_off = utf8(docs)
    hashes, off = _tokens(docs, data, doc_off, threads)
    art_off = np.ascontiguousarray(off[0::2])  # article i spans tokens off[2i]:off[2i+2]
    # TF over content words, as storyclust.stages.tokenize_batch: the title's counted
    # title_weight times, the lead's (the text's first lead_words) lead_weight more times,
    # by the kernel's term_counts over term ids. A stop word becomes N_TERMS (no term id),
    # its only "stop hash", so that two words sharing a term id are still told apart from
    # stop words by their full hash.
    ids = content_term_ids(hashes, _STOP_HASHES, _STOP_BITMAP, N_TERMS)
    terms, counts, tf_ptr = term_counts(
        ids,
        off,
        _NOT_A_TERM,
        title_weight=settings.title_weight,
        lead_words=settings.lead_words,
        lead_weight=settings.lead_weight,
        n_threads=threads,
    )
    tf_idx = terms.astype(np.int32)
    tf_cnt = np.minimum(counts, 65535).astype(np.uint16)
    name_hashes, name_off = article_names([a.title for a in articles], texts)
    nm_ptr, nm_idx, nm_cnt = _counts(
        np.repeat(np.arange(n, dtype=np.int64), np.diff(name_off)),
        term_ids(name_hashes),
        np.ones(len(name_hashes), dtype=np.int64),
        n,
        threads,
    )
    sh, sh_off = shingle_hashes(hashes, art_off, settings.shingle_size)
    sig = minhash_signatures(sh, sh_off, num_perm=settings.num_perm, seed=settings.seed)
    return Batch(
        ids=[a.id for a in articles],
        tf_ptr=tf_ptr,
        tf_idx=tf_idx,
        tf_cnt=tf_cnt,
        nm_ptr=nm_ptr,
        nm_idx=nm_idx,
        nm_cnt=nm_cnt,
        sig=sig,
        has_sh=np.diff(sh_off) > 0,
        titles=[" ".join(w for w in tokenize(a.title) if w not in STOP_WORDS) for a in articles],
        days=np.array(
            [
                math.nan if a.published is None else a.published.timestamp() / 86400
                for a in articles
            ],
            dtype=np.float64,
        ),
        n_tokens=np.diff(art_off).astype(np.int64),
        snippets=[t.strip()[:SNIPPET] for t in texts],
        learned=learned,
    )


def encode_terms(idx: I32, counts: U16) -> bytes:
    """A term vector as stored: zlib of the gaps between its sorted term ids, then its counts.

    Examples
    --------
    >>> idx, cnt = decode_terms(encode_terms(np.array([3, 9], np.int32), np.array([1, 2], np.uint16)))
    >>> idx.tolist(), cnt.tolist()
    ([3, 9], [1, 2])
    """
    gaps = np.diff(idx, prepend=0).astype("<u4")
    return zlib.compress(gaps.tobytes() + counts.astype("<u2").tobytes(), 1)


Packed = list[tuple[bytes, bytes, bytes]]


def _row_bytes(ptr: I64, idx: I32, counts: U16) -> list[bytes]:
    """The bytes :func:`encode_terms` compresses, of each row of a CSR term matrix at once."""
    gaps = idx.astype("<u4")
    gaps[1:] -= idx[:-1].astype("<u4")
    starts = ptr[:-1][np.diff(ptr) > 0]
    gaps[starts] = idx[starts]  # a row's first gap is from 0
    g, c = gaps.tobytes(), counts.astype("<u2").tobytes()
    p = ptr.tolist()
    return [g[4 * a : 4 * b] + c[2 * a : 2 * b] for a, b in itertools.pairwise(p)]


def pack_rows(batch: Batch) -> Packed:
    """What is stored of each article's vectors: its text and names vectors and its signature.

    Each vector as :func:`encode_terms` encodes it; the gaps and counts of the
    whole batch made in one pass, so that only zlib (which releases the GIL) runs
    an article at a time.
    """
    sig = batch.sig.astype("<u4").tobytes()
    width = 4 * batch.sig.shape[1]
    tf = _row_bytes(batch.tf_ptr, batch.tf_idx, batch.tf_cnt)
    nm = _row_bytes(batch.nm_ptr, batch.nm_idx, batch.nm_cnt)
    return [
        (zlib.compress(t, 1), zlib.compress(m, 1), sig[k * width : (k + 1) * width])
        for k, (t, m) in enumerate(zip(tf, nm))
    ]


def decode_terms(blob: object) -> tuple[I32, U16]:
    """The term ids and counts of a stored vector, checked.

    Reads at most what a vector over ``2**20`` terms can hold, whatever the blob
    claims, and never runs code.

    Raises
    ------
    ValueError
        If the blob is not a valid vector.
    """
    if not isinstance(blob, bytes):
        raise ValueError("not a byte string")
    d = zlib.decompressobj()
    try:
        raw = d.decompress(blob, 6 * N_TERMS + 1)
    except zlib.error as exc:
        raise ValueError(str(exc)) from None
    if d.unconsumed_tail or not d.eof or len(raw) % 6:
        raise ValueError("wrong length")
    n = len(raw) // 6
    idx = np.cumsum(np.frombuffer(raw[: 4 * n], dtype="<u4").astype(np.int64))
    if n and (idx[-1] >= N_TERMS or np.any(np.diff(idx) <= 0)):
        raise ValueError("term ids out of order or range")
    return idx.astype(np.int32), np.frombuffer(raw[4 * n :], dtype="<u2").astype(np.uint16)


def stack(parts: list[tuple[I32, U16]]) -> tuple[I64, I32, U16]:
    """Term vectors (ids, counts) as CSR pieces."""
    lengths = np.fromiter((len(p[0]) for p in parts), dtype=np.int64, count=len(parts))
    ptr = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=ptr[1:])
    if ptr[-1] == 0:
        return ptr, np.zeros(0, np.int32), np.zeros(0, np.uint16)
    return ptr, np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


class _Flat:
    """Term rows in flat arrays: a row is idx[lo:hi] (sorted term ids) and val[lo:hi] (1 + ln tf)."""

    def __init__(
        self, idx: I32 | None = None, val: F32 | None = None, used: int | None = None
    ) -> None:
        """`idx` and `val` hold rows in their first `used` entries (default: all of them)."""
        self.idx: I32 = np.zeros(1024, dtype=np.int32) if idx is None else idx
        self.val: F32 = np.zeros(1024, dtype=np.float32) if val is None else val
        self.used = (0 if idx is None else len(idx)) if used is None else used

    def append(self, ptr: I64, idx: I32, counts: U16) -> tuple[I64, I64]:
        """Append rows given as CSR pieces; return their lo and hi bounds."""
        need = self.used + len(idx)
        if need > len(self.idx):  # np.resize would fill the new room with repeats: not used
            self.idx = _grown(self.idx, self.used, need)
            self.val = _grown(self.val, self.used, need)
        self.idx[self.used : need] = idx
        self.val[self.used : need] = 1.0 + np.log(np.maximum(counts, 1).astype(np.float32))
        lo = self.used + ptr[:-1] - ptr[0]
        hi = self.used + ptr[1:] - ptr[0]
        self.used = need
        return lo.astype(np.int64), hi.astype(np.int64)

    def keep(self, lo: I64, hi: I64) -> tuple[I64, I64]:
        """Keep rows lo..hi only (ascending, disjoint), moved to the front in place; return their new bounds."""
        new_lo, new_hi = keep_rows(self.idx, lo, hi)
        keep_rows(self.val, lo, hi)
        self.used = int(new_hi[-1]) if len(hi) else 0
        return new_lo, new_hi


class _Titles:
    """Title words in one flat array of code points: a row's distinct words, sorted, space-joined."""

    def __init__(self, chars: U32 | None = None, used: int | None = None) -> None:
        """`chars` holds rows in its first `used` entries (default: all of them)."""
        self.chars: U32 = np.zeros(4096, dtype=np.uint32) if chars is None else chars
        self.used = (0 if chars is None else len(chars)) if used is None else used

    def append(self, titles: list[str]) -> tuple[I64, I64]:
        """Append titles; return their lo and hi bounds."""
        keys = [" ".join(sorted(set(t.split()))) for t in titles]
        lengths = np.fromiter((len(k) for k in keys), dtype=np.int64, count=len(keys))
        hi = self.used + np.cumsum(lengths)
        lo = hi - lengths
        flat = np.frombuffer("".join(keys).encode("utf-32-le"), dtype="<u4")
        need = self.used + len(flat)
        if need > len(self.chars):
            self.chars = _grown(self.chars, self.used, need)
        self.chars[self.used : need] = flat
        self.used = need
        return lo.astype(np.int64), hi.astype(np.int64)

    def keep(self, lo: I64, hi: I64) -> tuple[I64, I64]:
        """Keep rows lo..hi only (ascending, disjoint), moved to the front in place; return their new bounds."""
        new_lo, new_hi = keep_rows(self.chars, lo, hi)
        self.used = int(new_hi[-1]) if len(hi) else 0
        return new_lo, new_hi


# Inverted lists being built ahead: the slots they cover (0..n-1) and the build.
Ahead = tuple[int, Future[tuple[I64, I64, F32]]]

_BOUNDS: Final = frozenset({"tf_lo", "tf_hi", "nm_lo", "nm_hi", "hd_lo", "hd_hi"})
_SLOT_ARRAYS: Final = (
    ("row", np.int64),
    ("story", np.int64),
    ("day", np.float64),
    ("has_sh", np.bool_),
    ("alive", np.bool_),
    ("score", np.float64),
    ("n_tokens", np.int64),
    ("tf_lo", np.int64),
    ("tf_hi", np.int64),
    ("nm_lo", np.int64),
    ("nm_hi", np.int64),
    ("hd_lo", np.int64),
    ("hd_hi", np.int64),
)


class Pool:
    """The articles held in memory, as arrays indexed by slot.

    Slots are positions here; rows are article numbers in the file (arrival
    order). ``members`` maps a story to its slots; ``slot_of`` a row to its slot.
    Articles are appended; removed or evicted ones are marked dead and dropped
    by :meth:`compact`.
    """

    row: I64
    story: I64
    day: F64
    has_sh: B1
    alive: B1
    score: F64
    n_tokens: I64
    tf_lo: I64
    tf_hi: I64
    nm_lo: I64
    nm_hi: I64
    hd_lo: I64
    hd_hi: I64
    sig: U32

    def __init__(self, num_perm: int) -> None:
        self.num_perm = num_perm
        self.n = 0
        self.n_dead = 0
        self._alloc(256)
        self.tf = _Flat()
        self.nm = _Flat()
        self.hd = _Titles()
        self.ids: list[str] = []
        self.titles: list[str] = []
        self.slot_of: dict[int, int] = {}
        self.members: dict[int, list[int]] = {}
        self._main: tuple[I64, I64, F32] | None = None
        self._main_upto = 0
        self._dense = 0  # the slots in _main; those after it up to _main_upto: a cached segment
        self._stale = False  # _main is kept to be extended, not searched (see compact)
        self._tail = _Segments()

    def _alloc(self, cap: int) -> None:
        """Fresh arrays of capacity `cap`."""
        for name, dtype in _SLOT_ARRAYS:
            setattr(self, name, np.zeros(cap, dtype=dtype))
        self.sig = np.zeros((cap, self.num_perm), dtype=np.uint32)

    def _grow(self, need: int) -> None:
        """Make room for `need` slots."""
        cap = len(self.row)
        if need <= cap:
            return
        new = max(need, 2 * cap)
        for name, dtype in _SLOT_ARRAYS:
            arr = np.zeros(new, dtype=dtype)
            arr[: self.n] = getattr(self, name)[: self.n]
            setattr(self, name, arr)
        sig = np.zeros((new, self.num_perm), dtype=np.uint32)
        sig[: self.n] = self.sig[: self.n]
        self.sig = sig

    def append(self, batch: Batch, rows: I64, stories: I64, scores: F64) -> I64:
        """Append the articles of `batch`; return their slots."""
        m = len(batch.ids)
        s0 = self.n
        self._grow(s0 + m)
        sl = slice(s0, s0 + m)
        self.row[sl] = rows
        self.story[sl] = stories
        self.day[sl] = batch.days
        self.has_sh[sl] = batch.has_sh
        self.alive[sl] = True
        self.score[sl] = scores
        self.n_tokens[sl] = batch.n_tokens
        self.tf_lo[sl], self.tf_hi[sl] = self.tf.append(batch.tf_ptr, batch.tf_idx, batch.tf_cnt)
        self.nm_lo[sl], self.nm_hi[sl] = self.nm.append(batch.nm_ptr, batch.nm_idx, batch.nm_cnt)
        self.hd_lo[sl], self.hd_hi[sl] = self.hd.append(batch.titles)
        self.sig[sl] = batch.sig
        self.ids.extend(batch.ids)
        self.titles.extend(batch.titles)
        self.n = s0 + m
        for k, (r, st) in enumerate(zip(rows.tolist(), stories.tolist())):
            self.slot_of[r] = s0 + k
            if st >= 0:
                self.members.setdefault(st, []).append(s0 + k)
        return np.arange(s0, s0 + m, dtype=np.int64)

    def truncate(self, n: int) -> None:
        """Forget slots `n` and later (a queried article, never assigned)."""
        if n >= self.n:
            return
        for slot in range(n, self.n):
            self.slot_of.pop(int(self.row[slot]), None)
        self.tf.used = int(self.tf_lo[n])
        self.nm.used = int(self.nm_lo[n])
        self.hd.used = int(self.hd_lo[n])
        del self.ids[n:]
        del self.titles[n:]
        self.n = n
        if self._main_upto > n:
            self._main, self._main_upto = None, 0
            self._tail.clear()
        self._tail.cut(n)

    def drop(self, slots: Iterable[int]) -> None:
        """Mark slots dead (removed, expired or evicted from memory)."""
        for slot in slots:
            if not self.alive[slot]:
                continue
            self.alive[slot] = False
            self.n_dead += 1
            self.slot_of.pop(int(self.row[slot]), None)
            st = int(self.story[slot])
            lst = self.members.get(st)
            if lst is not None:
                lst.remove(slot)
                if not lst:
                    del self.members[st]

    def move(self, slots: Sequence[int], story: int) -> None:
        """Put slots into `story` (from whatever story they were in)."""
        members = self.members
        for slot in slots:
            old = int(self.story[slot])
            lst = members.get(old)
            if lst is not None:  # members lists are sorted and distinct: bisect
                i = bisect.bisect_left(lst, slot)
                if i < len(lst) and lst[i] == slot:
                    del lst[i]
                    if not lst:
                        del members[old]
            self.story[slot] = story
        lst = members.get(story)
        if lst is not None and len(slots) == 1:  # an article joining: no re-sort
            i = bisect.bisect_left(lst, slots[0])
            if i == len(lst) or lst[i] != slots[0]:
                lst.insert(i, slots[0])
        else:
            members[story] = sorted({*(lst or ()), *slots})

    def compact(self) -> None:
        """Drop the dead slots: the others move to the front of the arrays, in place.

        The cached inverted lists are renumbered (not rebuilt) and marked stale: the
        next search extends them to every slot, as a rebuild would list them.
        """
        keep = np.flatnonzero(self.alive[: self.n])
        main, dense = None, 0
        if self._main is not None and self._dense:
            new = np.full(self._dense, -1, dtype=np.int64)
            kept = keep[keep < self._dense]
            new[kept] = np.arange(len(kept))
            main, dense = remap_postings(self._main, new), len(kept)
            self._main = None
        # In place: the slots kept move to the front (fresh arrays cost a page fault
        # every 4 kB on first write, which is most of a compaction's time here).
        m = len(keep)
        n = self.n
        self.tf_lo[:m], self.tf_hi[:m] = self.tf.keep(self.tf_lo[keep], self.tf_hi[keep])
        self.nm_lo[:m], self.nm_hi[:m] = self.nm.keep(self.nm_lo[keep], self.nm_hi[keep])
        self.hd_lo[:m], self.hd_hi[:m] = self.hd.keep(self.hd_lo[keep], self.hd_hi[keep])
        for name, _ in _SLOT_ARRAYS:
            if name not in _BOUNDS:
                arr = getattr(self, name)
                arr[:m] = arr[keep]
        self.alive[m:n] = False
        self.sig[:m] = self.sig[keep]
        ids = self.ids
        self.ids = [ids[k] for k in keep.tolist()]
        titles = self.titles
        self.titles = [titles[k] for k in keep.tolist()]
        self.n, self.n_dead = m, 0
        self.slot_of = {r: k for k, r in enumerate(self.row[:m].tolist())}
        self.members = members_of(self.story[:m])
        self._main, self._main_upto, self._dense, self._stale = main, dense, dense, True
        self._tail.clear()

    def _postings_due(self, n: int) -> bool:
        """Whether the cached inverted lists are rebuilt once the slots reach `n`."""
        return (
            self._main is None
            or self._stale
            or n - self._main_upto > max(512, self._main_upto // 4)
        )

    def postings_ahead(self, n_new: int, worker: ThreadPoolExecutor) -> Ahead | None:
        """Start building the inverted lists of the slots held now on `worker`, if due.

        Due when the cached lists will be rebuilt once `n_new` slots more are
        appended (see :meth:`postings`, which takes the result). The arrays are
        taken here: appending slots writes nothing the build reads.
        """
        if not self._postings_due(self.n + n_new):
            return None
        lists = (self.tf_lo, self.tf_hi, self.tf.idx, self.tf.val)
        old, upto = self._main, self._dense
        self._main = None  # replaced at the search (the build holds the old lists until merged)
        if old is None or upto == 0:
            return self.n, worker.submit(postings, *lists, 0, self.n, N_TERMS)
        # The cached lists are extended with those of the slots after them: the same
        # arrays as a rebuild (merge_postings), in about half its time, since the
        # rebuild scatters every entry at random over 2^20 lists.
        return self.n, worker.submit(_extended, old, lists, upto, self.n)

    def postings(
        self, n_queries: int, upto: int, ahead: Ahead | None = None
    ) -> tuple[tuple[I64, I64, F32], Segments, I32, int]:
        """Inverted lists for the neighbour search: cached ones, recent ones, and where scanning starts.

        The cached lists cover the first slots (``_main_upto``) and are rebuilt,
        over slots ``0..upto-1`` (those that stay), once the slots after them grow
        by a quarter: amortised linear in the articles appended. The slots after
        them are searched through lists of their own (segments, built once for
        the slots appended since the last call, in time proportional to their
        entries) when scanning them for every query would cost more; otherwise
        they are scanned. With `ahead` (:meth:`postings_ahead`), a rebuild over all
        slots takes the lists built there (of the slots held when it began), and
        the slots after them are a segment of the cache. The search is the same
        whichever lists hold a row (it adds a row's terms in the same order), and
        so are the articles a term counts as listed in (the hub test): those of the
        cache, and of the slots after it when they are listed.

        Returns
        -------
        main : (ptr, slots, values)
            Dense inverted lists (:func:`postings`).
        segments : Segments
            The lists of the other slots searched through lists.
        counts : ndarray of int32, shape (k, n_terms)
            Per term, the articles of `segments` (hub counts beside `main`'s).
        scan_from : int
            First slot to scan by merging terms.
        """
        lists = (self.tf_lo, self.tf_hi, self.tf.idx, self.tf.val)
        tail = self._tail
        if self._main is None or self._postings_due(self.n):
            tail.clear()
            if ahead is not None and upto == self.n:
                start, built = ahead
                self._main, self._dense = built.result(), start
                self._stale = False
                tail.add(lists, start, self.n, cached=True)
                self._main_upto = self.n
            else:
                self._main, self._main_upto = postings(*lists, 0, upto, N_TERMS), upto
                self._dense, self._stale = upto, False
        n_tail = self.n - self._main_upto
        if n_queries * n_tail <= 1 << 14:
            return self._main, tail.view(cached_only=True), tail.counts[:1], self._main_upto
        tail.add(lists, max(tail.upto, self._main_upto), self.n, cached=False)
        return self._main, tail.view(cached_only=False), tail.counts, self.n


def members_of(story: I64) -> dict[int, list[int]]:
    """Each story's slots, ascending (slots of story -1, not in one, left out)."""
    members: dict[int, list[int]] = {}
    for slot, st in enumerate(story.tolist()):  # 2x faster than by a sort and np.split
        if st >= 0:
            members.setdefault(st, []).append(slot)
    return members


def _extended(
    main: tuple[I64, I64, F32], lists: tuple[I64, I64, I32, F32], upto: int, n: int
) -> tuple[I64, I64, F32]:
    """The inverted lists of slots ``0..n-1`` from `main`, those of slots ``0..upto-1``."""
    return merge_postings(main, postings(*lists, upto, n, N_TERMS))


def _grown(a: Any, used: int, need: int) -> Any:
    """A larger buffer (at least `need`, at least twice `a`) holding a[:used]."""
    out = np.empty(max(need, 2 * len(a)), dtype=a.dtype)
    out[:used] = a[:used]
    return out


class _Segments:
    """Inverted lists of slots after the dense cached ones, held as segments (see ``segment``).

    Segments are appended in slot order, one after another in growing buffers
    (the form :func:`join_segments` gives), and dropped from the end. Those of
    the cache (``cached``: slots below ``Pool._main_upto``) come first. Per term,
    ``counts[0]`` holds the articles of the cache's segments and ``counts[1]``
    those of the others, kept as segments come and go (in proportion to their
    terms). A view handed to a search stays valid: later segments are written
    after it, or in new buffers.
    """

    def __init__(self) -> None:
        # (first slot, last slot + 1, of the cache, first term entry, first list entry)
        self.parts: list[tuple[int, int, bool, int, int]] = []
        self.terms = np.zeros(0, dtype=np.int32)
        self.ptr = np.zeros(1, dtype=np.int64)
        self.slots = np.zeros(0, dtype=np.int64)
        self.vals = np.zeros(0, dtype=np.float32)
        self.n_terms = 0  # term entries used
        self.n_entries = 0  # list entries used
        self._counts: I32 | None = None

    @property
    def counts(self) -> I32:
        """Articles per term in the cache's segments (row 0) and the others (row 1)."""
        if self._counts is None:
            self._counts = np.zeros((2, N_TERMS), dtype=np.int32)
        return self._counts

    @property
    def upto(self) -> int:
        """First slot after the segments (where the next one starts); -1 when there are none."""
        return self.parts[-1][1] if self.parts else -1

    def add(self, lists: tuple[I64, I64, I32, F32], start: int, upto: int, cached: bool) -> None:
        """Append the segment of slots start..upto-1."""
        if upto <= start:
            return
        terms, ptr, slots, vals = segment(*lists, start, upto)
        t0, e0 = self.n_terms, self.n_entries
        t1, e1 = t0 + len(terms), e0 + len(slots)
        if t1 + 1 > len(self.ptr):
            self.terms = _grown(self.terms, t0, t1 + 1)
            self.ptr = _grown(self.ptr, t0 + 1, t1 + 1)
        if e1 > len(self.slots):
            self.slots = _grown(self.slots, e0, e1)
            self.vals = _grown(self.vals, e0, e1)
        self.terms[t0:t1] = terms
        self.ptr[t0 + 1 : t1 + 1] = ptr[1:] + e0
        self.slots[e0:e1] = slots
        self.vals[e0:e1] = vals
        self.n_terms, self.n_entries = t1, e1
        self.counts[0 if cached else 1, terms] += np.diff(ptr).astype(np.int32)
        self.parts.append((start, upto, cached, t0, e0))

    def cut(self, n: int) -> None:
        """Drop the segments holding slots `n` and later."""
        while self.parts and self.parts[-1][1] > n:
            self._drop()

    def clear(self) -> None:
        """Drop every segment."""
        while self.parts:
            self._drop()

    def _drop(self) -> None:
        """Drop the last segment."""
        _, _, cached, t0, e0 = self.parts.pop()
        t1 = self.n_terms
        terms = self.terms[t0:t1]
        self.counts[0 if cached else 1, terms] -= np.diff(self.ptr[t0 : t1 + 1]).astype(np.int32)
        self.n_terms, self.n_entries = t0, e0

    def view(self, *, cached_only: bool) -> Segments:
        """The segments (those of the cache only, or all) one after another (views, no copy)."""
        parts = [p for p in self.parts if p[2] or not cached_only]
        t1 = self.parts[len(parts)][3] if len(parts) < len(self.parts) else self.n_terms
        e1 = self.parts[len(parts)][4] if len(parts) < len(self.parts) else self.n_entries
        bounds = np.array([p[3] for p in parts] + [t1], dtype=np.int64)
        return bounds, self.terms[:t1], self.ptr[: t1 + 1], self.slots[:e1], self.vals[:e1]


@dataclass
class Signals:
    """Every signal of a block of article pairs, each of shape (len(a), len(b))."""

    score: F64
    cosine: F64
    headline: F64
    names: F64
    jaccard: F64
    time_factor: F64

    def link(self, i: int, j: int, a_id: str, b_id: str, near: float) -> dict[str, Any]:
        """Pair (i, j) as a link dict with article ids, as in ``StoryResult.links``."""
        h = float(self.headline[i, j])
        nm = float(self.names[i, j])
        return {
            "a": a_id,
            "b": b_id,
            "score": round(float(self.score[i, j]), 4),
            "jaccard": round(float(self.jaccard[i, j]), 4),
            "cosine": round(float(self.cosine[i, j]), 4),
            "headline": None if math.isnan(h) else round(h, 4),
            "names": None if math.isnan(nm) else round(nm, 4),
            "time_factor": round(float(self.time_factor[i, j]), 4),
            "near_duplicate": bool(self.jaccard[i, j] >= near),
        }


def signals(
    pool: Pool,
    a: I64,
    b: I64,
    lg: tuple[F64, F64],
    n_docs: int,
    settings: Settings,
    norms: tuple[F64, F64] | None = None,
    work: tuple[F32, U64] | None = None,
) -> Signals:
    """Every signal between slots `a` and slots `b`, with IDF from `lg` = log(1 + df).

    The signals and score of the batch links (:func:`storyclust.links.combine_scores`,
    the headline weighing more where either article is a headline alone), in one
    compiled call. `norms` caches the rows' norms under this IDF, `work` is
    working space (see ``pair_scores``).
    """
    s = settings
    c = math.log1p(max(n_docs, 0)) + 1.0
    tf = _time_factor(pool.day, a, b, s.time_window_days, s.time_decay_days)
    score, cos, head, names, jac = pair_scores(
        a,
        b,
        (pool.tf_lo, pool.tf_hi, pool.tf.idx, pool.tf.val, lg[0]),
        (pool.nm_lo, pool.nm_hi, pool.nm.idx, pool.nm.val, lg[1]),
        c,
        pool.sig,
        pool.has_sh,
        (pool.hd_lo, pool.hd_hi, pool.hd.chars),
        pool.n_tokens,
        s.headline_only_words,
        tf,
        (s.headline_weight, s.headline_only_weight, s.names_weight, s.near_duplicate_threshold),
        norms,
        work,
    )
    return Signals(score=score, cosine=cos, headline=head, names=names, jaccard=jac, time_factor=tf)


def _time_factor(day: F64, a: I64, b: I64, window: float, decay: float) -> F64:
    """:func:`storyclust.links.time_factor` of slots `a` x `b`, with the same numpy ``exp``."""
    over, anyover = time_overs(day, a, b, window)
    if decay == 0:
        return np.where(over > 0, 0.0, 1.0)
    if not anyover:  # exp(-0 / decay) is exactly 1
        return np.ones_like(over)
    out: F64 = np.exp(-over / decay)
    return out


# --- LSH buckets as sorted runs -------------------------------------------------------------

_BAND_SALT: Final = np.uint64(0x9E3779B97F4A7C15)
MAX_RUN: Final = 1 << 22  # entries of the largest run (4M: 64 MB in memory and on disk)


def bucket_keys(keys: U64) -> U64:
    """Band keys, shape (n, bands), made distinct across bands: key ^ (band + 1) * golden ratio.

    Examples
    --------
    >>> k = np.zeros((1, 2), dtype=np.uint64)
    >>> bool(bucket_keys(k)[0, 0] != bucket_keys(k)[0, 1])
    True
    """
    salt = (np.arange(1, keys.shape[1] + 1, dtype=np.uint64) * _BAND_SALT)[None, :]
    out: U64 = keys ^ salt
    return out


class LshRuns:
    """The LSH buckets of the articles held, as sorted runs of (bucket key, row).

    An LSM tree: each :meth:`~storyclust.StoryIndex.add` writes one run of its
    articles' keys (sequential, small), and the newest runs are merged while a
    run is at most twice the size of the one after it, up to ``MAX_RUN`` entries:
    O(log n) runs, each entry rewritten O(log n) times. A B-tree of the keys
    instead takes a random page write per key, which at a million articles costs
    more than everything else an article needs. Runs are keyed by the first row
    they cover; a run covers rows ``first..last``.
    """

    def __init__(self) -> None:
        self.runs: dict[int, tuple[int, U64, I64]] = {}
        # Each run's table of where its keys' top bits start (memory only, 1 to 2 bytes a key).
        self._fences: dict[int, tuple[U64, tuple[I64, int]]] = {}

    @staticmethod
    def entries(keys: U64, rows: I64) -> tuple[U64, I64]:
        """A run of articles' band keys (shape (n, bands)) and rows, sorted by (key, row)."""
        k = bucket_keys(keys).ravel()
        r = np.repeat(rows.astype(np.int64), keys.shape[1])
        order = np.lexsort((r, k))
        return k[order], r[order]

    def lookup(self, probes: U64) -> tuple[I64, I64]:
        """(probe position, row) of every entry whose key equals a probe.

        Run by run, then by probe position, then as the run holds them. The probes
        are searched in sorted order, so that the runs (up to ``MAX_RUN`` keys,
        32 MB) are read in order, not at random; each search starts from the run's
        table of where its keys' top bits start (:func:`key_fences`), built when
        the run is first searched.
        """
        pos_parts: list[I64] = []
        row_parts: list[I64] = []
        order = np.argsort(probes)  # ties: put back in probe order below
        ordered = probes[order]
        for stale in self._fences.keys() - self.runs.keys():
            del self._fences[stale]
        for first, (_, keys, rows) in self.runs.items():
            if not len(keys):
                continue
            lo, hi = key_ranges(keys, ordered, self._fences_of(first, keys))
            hit = np.flatnonzero(hi > lo)
            if not len(hit):
                continue
            back = np.argsort(order[hit], kind="stable")  # the hits in probe order
            hit, lo_hit, hi = order[hit][back], lo[hit][back], hi[hit][back]
            n = hi - lo_hit
            start = np.repeat(lo_hit - np.cumsum(n) + n, n) + np.arange(int(n.sum()))
            pos_parts.append(np.repeat(hit, n).astype(np.int64))
            row_parts.append(rows[start])
        if not pos_parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(pos_parts), np.concatenate(row_parts)

    def _fences_of(self, first: int, keys: U64) -> tuple[I64, int]:
        """The fence table of the run starting at `first` (built again if the run changed)."""
        got = self._fences.get(first)
        if got is None or got[0] is not keys:
            got = self._fences[first] = (keys, key_fences(keys))
        return got[1]

    def to_merge(self) -> list[int]:
        """First rows of the newest runs to merge into one (empty if none)."""
        firsts = sorted(self.runs)
        sizes = [len(self.runs[f][1]) for f in firsts]
        k = len(firsts)
        total = sizes[-1] if sizes else 0
        while k >= 2 and sizes[k - 2] <= 2 * total and sizes[k - 2] + total <= MAX_RUN:
            total += sizes[k - 2]
            k -= 1
        return firsts[k - 1 :] if k < len(firsts) else []

    def merged(self, firsts: list[int]) -> tuple[int, int, U64, I64]:
        """The runs starting at `firsts` as one: (first, last, keys, rows)."""
        parts = [self.runs[f] for f in firsts]
        keys = np.concatenate([p[1] for p in parts])
        rows = np.concatenate([p[2] for p in parts])
        order = np.lexsort((rows, keys))
        return min(firsts), max(p[0] for p in parts), keys[order], rows[order]
