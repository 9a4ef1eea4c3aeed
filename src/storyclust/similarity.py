"""The similarity kernel: arrays in, arrays out; no I/O, no logging, no state.

Token and shingle hashing from text bytes, MinHash signatures, LSH band keys and
candidate pairs, Jaccard estimates, and sparse cosine similarities. Each function
has a slow, obvious twin in :mod:`storyclust._reference` that the tests compare it
against. The hot loops are compiled with numba (cached on disk after the first
call) and release the GIL, so long inputs are split over threads; the result does
not depend on the number of threads.

Hash scheme (``"storyclust"``): tokens are hashed with 64-bit FNV-1a over their
UTF-8 bytes (as :func:`storyclust.text.hash_strings`); a shingle of k tokens folds
its token hashes with FNV-style xor-multiply and a splitmix64 finaliser;
permutation p maps a shingle hash x to ``(a_p * x + b_p) mod 2**64 >> 32``
(multiply-shift hashing, a_p odd), with a_p, b_p drawn from
``numpy.random.PCG64(seed)``. The signature of a document with no shingles is all
``EMPTY_VALUE``.

Costs (n documents, T tokens, S shingles, B text bytes, P permutations, b bands;
measured figures in ``benchmarks/results/similarity.md``):

=========================  ==========================  =============================
function                   time                        memory besides the output
=========================  ==========================  =============================
hash_token_text            O(B)                        O(n)
hash_raw_text              O(B)                        O(n)
shingle_hashes             O(S * k)                    O(n)
minhash_signatures         O(S * P), vectorised over   O(P) per thread
                           the permutations
text_signatures            O(B + S * (k + P)), fused   O(longest document) per thread
lsh_params                 O(P log P) integrals        O(1)
band_keys                  O(n * b * rows)             O(n * b)
band_candidates            O(b * n log n) sorting      O(n + candidate pairs)
jaccard_estimates          O(pairs * P)                O(pairs + P * 16,384)
cosine_pairs               O(pairs * row nnz)          O(chunk * row nnz)
cosine_neighbors           sum over features of        O(nnz) index, O(n) per
                           df**2 multiply-adds         thread; no n x n matrix
prefix_matrix              O(nnz) selection            none
cosine_candidates          per row and prefix feature: O(n * max_terms) prefix
                           the postings within the     index, O(n) per thread
                           horizon (at most
                           2 * max_nearby + 1), and
                           O(pairs * row nnz)
term_counts                O(T + terms log terms)      O(T)
average_linkage            O(m**2) (nearest-neighbour  O(m); the input is
                           chain)                      overwritten, not copied
names_raw_text             O(B), one pass              O(longest document)
line_hashes                O(B), one pass              O(n)
strip_line_hashes          O(B)                        O(B) output
raw_words                  O(B)                        O(B) folded words
=========================  ==========================  =============================
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.integrate import quad

from ._kernel_base import (
    B1,
    F64,
    I64,
    U8,
    U32,
    U64,
    _as_offsets,
    _joined,
    _run,
    _run_parts,
    _thread_count,
)
from ._kernel_cosine import (
    cosine_candidates,
    cosine_neighbors,
    cosine_pairs,
    prefix_matrix,
    top_per_row,
)
from ._kernel_linkage import average_linkage, flat_clusters
from ._kernel_scan import (
    EMPTY_VALUE,
    _band_key_range,
    _compact,
    _count_tokens,
    _lines_piece,
    _minhash_range,
    _names_piece,
    _shingle_range,
    _strip_range,
    _term_count_range,
    _text_signature_range,
    _tokens_piece,
    _words_range,
)

__all__ = [
    "EMPTY_VALUE",
    "average_linkage",
    "band_candidates",
    "band_keys",
    "cosine_candidates",
    "cosine_neighbors",
    "cosine_pairs",
    "flat_clusters",
    "hash_raw_text",
    "hash_token_text",
    "jaccard_estimates",
    "line_hashes",
    "lsh_params",
    "minhash_params",
    "minhash_signatures",
    "names_raw_text",
    "prefix_matrix",
    "raw_words",
    "shingle_hashes",
    "strip_line_hashes",
    "term_counts",
    "text_signatures",
    "top_per_row",
]


# --- public kernel ----------------------------------------------------------------------


def hash_token_text(data: U8, offsets: I64, *, n_threads: int | None = None) -> tuple[U64, I64]:
    """Hash the space-separated tokens of many documents.

    This is how tokens already produced by :func:`storyclust.text.tokenize` reach
    the kernel: ``" ".join(tokens)`` of each document, UTF-8 encoded and
    concatenated, hashed here without a Python object per token.

    Parameters
    ----------
    data : ndarray of uint8, shape (n_bytes,)
        UTF-8 bytes of every document's tokens joined by single spaces.
    offsets : ndarray of int64, shape (n_docs + 1,)
        Document d owns ``data[offsets[d]:offsets[d + 1]]``.
    n_threads : int, optional
        Threads to use; by default all CPUs for long inputs, one for short ones.

    Returns
    -------
    token_hashes : ndarray of uint64, shape (n_tokens,)
        Equal to :func:`storyclust.text.hash_strings` of the tokens.
    token_offsets : ndarray of int64, shape (n_docs + 1,)

    Examples
    --------
    >>> data = np.frombuffer("a bb\\nc".encode(), dtype=np.uint8)
    >>> h, off = hash_token_text(data, np.array([0, 4, 6]))
    >>> off.tolist(), int(h[0]) == 0xAF63DC4C8601EC8C
    ([0, 2, 3], True)
    """
    return _token_hashes(data, offsets, raw=False, n_threads=n_threads)[:2]


def hash_raw_text(data: U8, offsets: I64, *, n_threads: int | None = None) -> tuple[U64, I64, B1]:
    """Tokenise and hash raw UTF-8 text exactly as ``hash_strings(tokenize(text))``.

    The compiled tokeniser covers ASCII text with Latin-1 letters and typographic
    punctuation (curly quotes, dashes, no-break spaces, currency signs): most
    English and Western European news. A document with any other character gets
    no tokens here and ``ok`` False: tokenise it with
    :func:`storyclust.text.tokenize` and hash it with :func:`hash_token_text`.

    Parameters
    ----------
    data : ndarray of uint8, shape (n_bytes,)
        UTF-8 bytes of the documents, concatenated.
    offsets : ndarray of int64, shape (n_docs + 1,)
    n_threads : int, optional

    Returns
    -------
    token_hashes : ndarray of uint64, shape (n_tokens,)
    token_offsets : ndarray of int64, shape (n_docs + 1,)
    ok : ndarray of bool, shape (n_docs,)
        False where the document must be tokenised in Python instead.

    Examples
    --------
    >>> data = np.frombuffer("Quake hits Tokyo — 7.1\\u6771".encode(), dtype=np.uint8)
    >>> h, off, ok = hash_raw_text(data, np.array([0, 24, len(data)]))
    >>> off.tolist(), ok.tolist()
    ([0, 5, 5], [True, False])
    """
    return _token_hashes(data, offsets, raw=True, n_threads=n_threads)


def _counted(
    data: U8, offsets: I64, raw: bool, n_threads: int | None
) -> tuple[U8, I64, int, I64, I64]:
    """The first pass of tokenising: bytes, checked offsets, threads, token counts
    (-1 where raw text needs Python) and token offsets."""
    buf = np.ascontiguousarray(data, dtype=np.uint8)
    off = _as_offsets(offsets, len(buf))
    threads = _thread_count(n_threads, float(off[-1] - off[0]) * 64)
    counts = np.zeros(len(off) - 1, dtype=np.int64)
    _run(_count_tokens, (buf, off, raw, counts), off, threads)
    tok_offsets = np.zeros(len(off), dtype=np.int64)
    np.cumsum(np.maximum(counts, 0), out=tok_offsets[1:])
    return buf, off, threads, counts, tok_offsets


def _token_hashes(
    data: U8, offsets: I64, *, raw: bool, n_threads: int | None
) -> tuple[U64, I64, B1]:
    """The token hashes of each document, in one pass."""
    buf = np.ascontiguousarray(data, dtype=np.uint8)
    off = _as_offsets(offsets, len(buf))
    threads = _thread_count(n_threads, float(off[-1] - off[0]) * 64)
    parts = _run_parts(_tokens_piece, (buf, off, raw), off, threads)
    out, counts = _joined(parts, np.uint64, np.int64)
    tok_offsets = np.zeros(len(off), dtype=np.int64)
    np.cumsum(np.maximum(counts, 0), out=tok_offsets[1:])
    return out, tok_offsets, counts >= 0


def term_counts(
    token_hashes: U64,
    field_offsets: I64,
    stop_hashes: U64,
    *,
    title_weight: int = 2,
    lead_words: int = 30,
    lead_weight: int = 1,
    n_threads: int | None = None,
) -> tuple[U64, I64, I64]:
    """Weighted counts of the content terms of many articles, each sorted by term hash.

    The term frequencies TF-IDF is built on: an article's title and text tokens
    with the stop words left out; a title term counts `title_weight` times, each
    of the first `lead_words` content words of the text counts ``1 + lead_weight``
    times, every other content word once.

    Parameters
    ----------
    token_hashes : ndarray of uint64, shape (n_tokens,)
        Token hashes of each article's title, then of its text, article after article.
    field_offsets : ndarray of int64, shape (2 * n_articles + 1,)
        Article a's title tokens are ``token_hashes[field_offsets[2a]:field_offsets[2a + 1]]``,
        its text tokens run on to ``field_offsets[2a + 2]``.
    stop_hashes : ndarray of uint64
        Hashes of the stop words.
    title_weight, lead_words, lead_weight : int
    n_threads : int, optional

    Returns
    -------
    terms : ndarray of uint64, shape (n_entries,)
        Distinct term hashes of each article, ascending within an article.
    counts : ndarray of int64, shape (n_entries,)
        Weighted count of each.
    offsets : ndarray of int64, shape (n_articles + 1,)

    Examples
    --------
    >>> t, c, off = term_counts(np.array([5, 7, 5, 9], dtype=np.uint64), np.array([0, 1, 4]),
    ...                         np.array([9], dtype=np.uint64), lead_words=1)
    >>> t.tolist(), c.tolist(), off.tolist()
    ([5, 7], [3, 2], [0, 2])
    """
    for name, v in (
        ("title_weight", title_weight),
        ("lead_words", lead_words),
        ("lead_weight", lead_weight),
    ):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be an int >= 0; got {v!r}")
    tokens = np.ascontiguousarray(token_hashes, dtype=np.uint64)
    off = _as_offsets(field_offsets, len(tokens))
    if len(off) % 2 != 1:
        raise ValueError(
            "field_offsets must hold 2 * n_articles + 1 positions (title, text per article); "
            f"got {len(off)}"
        )
    stop = np.unique(np.asarray(stop_hashes, dtype=np.uint64))
    n = (len(off) - 1) // 2
    out_t = np.empty(len(tokens), dtype=np.uint64)
    out_c = np.empty(len(tokens), dtype=np.int64)
    n_terms = np.zeros(n, dtype=np.int64)
    art_off = np.ascontiguousarray(off[::2])
    threads = _thread_count(n_threads, float(art_off[-1] - art_off[0]) * 16)
    _run(
        _term_count_range,
        (
            tokens,
            off,
            stop,
            int(title_weight),
            int(lead_words),
            int(lead_weight),
            out_t,
            out_c,
            n_terms,
        ),
        art_off,
        threads,
    )
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(n_terms, out=offsets[1:])
    # Compact: article a's terms sit at the start of its token slots.
    slot = np.arange(len(tokens), dtype=np.int64) - np.repeat(art_off[:-1], np.diff(art_off))
    keep = slot < np.repeat(n_terms, np.diff(art_off))
    return out_t[keep], out_c[keep], offsets


def names_raw_text(
    data: U8, offsets: I64, stop_hashes: U64, *, n_threads: int | None = None
) -> tuple[U64, I64, I64, B1]:
    """Hashes of the names and figures of raw UTF-8 texts, as :func:`storyclust.text.names_and_numbers`.

    Equal to ``hash_strings(names_and_numbers(text))`` (no title) for every text
    the compiled scanner covers: ASCII with Latin-1 letters, no-break spaces,
    dashes, curly quotes and the ellipsis. A text with any other character gets
    ``ok`` False and nothing here: run :func:`storyclust.text.names_and_numbers`
    on it instead.

    Parameters
    ----------
    data : ndarray of uint8, shape (n_bytes,)
    offsets : ndarray of int64, shape (n_docs + 1,)
    stop_hashes : ndarray of uint64
        Hashes of :data:`storyclust.text.STOP_WORDS`.
    n_threads : int, optional

    Returns
    -------
    hashes : ndarray of uint64, shape (n_entries,)
        Per document its names (mid-sentence capitalised words, then sentence-initial
        ones also seen mid-sentence), then its figures.
    offsets : ndarray of int64, shape (n_docs + 1,)
    n_names : ndarray of int64, shape (n_docs,)
        How many of each document's entries are names (the rest are figures).
    ok : ndarray of bool, shape (n_docs,)

    Examples
    --------
    >>> from storyclust.text import STOP_WORDS, hash_strings, names_and_numbers
    >>> text = "Rescuers in Mamuju found 8 bodies. Officials said 1,200 fled."
    >>> data = np.frombuffer(text.encode(), dtype=np.uint8)
    >>> h, off, n_names, ok = names_raw_text(data, np.array([0, len(data)]),
    ...                                      hash_strings(sorted(STOP_WORDS)))
    >>> h.tolist() == hash_strings(names_and_numbers(text)).tolist(), n_names.tolist()
    (True, [1])
    """
    buf = np.ascontiguousarray(data, dtype=np.uint8)
    off = _as_offsets(offsets, len(buf))
    n_docs = len(off) - 1
    stop = np.unique(np.asarray(stop_hashes, dtype=np.uint64))
    threads = _thread_count(n_threads, float(off[-1] - off[0]) * 32)
    parts = _run_parts(_names_piece, (buf, off, stop), off, threads)
    out, counts = _joined(parts, np.uint64, np.int64)
    ok = counts[0::2] >= 0
    out_off = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.where(ok, counts[0::2] + counts[1::2], 0), out=out_off[1:])
    return out, out_off, np.where(ok, counts[0::2], 0), ok


def raw_words(data: U8, offsets: I64, *, n_threads: int | None = None) -> tuple[list[str], I64, B1]:
    """The tokens of raw UTF-8 texts as strings, as :func:`storyclust.text.tokenize` gives them.

    The words :func:`hash_raw_text` hashes, for the texts it covers (``ok``); the
    others get no tokens here (tokenise them in Python).

    Returns
    -------
    tokens : list of str
    token_offsets : ndarray of int64, shape (n_docs + 1,)
    ok : ndarray of bool, shape (n_docs,)

    Examples
    --------
    >>> data = np.frombuffer("Straße in MÜNCHEN".encode(), dtype=np.uint8)
    >>> raw_words(data, np.array([0, len(data)]))[0]
    ['strasse', 'in', 'münchen']
    """
    buf, off, threads, counts, tok_offsets = _counted(data, offsets, True, n_threads)
    ok = counts >= 0
    # Folded words never take more bytes than the text they come from.
    byte_offsets = off - off[0]
    out_bytes = np.zeros(int(byte_offsets[-1]), dtype=np.uint8)
    out_ends = np.zeros(int(tok_offsets[-1]), dtype=np.int64)
    _run(
        _words_range,
        (buf, off, tok_offsets, byte_offsets, out_bytes, out_ends),
        off,
        threads,
    )
    starts = np.empty_like(out_ends)
    if len(out_ends):
        starts[1:] = out_ends[:-1]
        starts[tok_offsets[:-1][counts > 0]] = byte_offsets[:-1][counts > 0]
    raw = out_bytes.tobytes()
    words = [raw[a:b].decode("utf-8") for a, b in zip(starts.tolist(), out_ends.tolist())]
    return words, tok_offsets, ok


def line_hashes(
    data: U8, offsets: I64, *, n_threads: int | None = None
) -> tuple[U64, I64, I64, B1]:
    """Hashes of the normalised lines of raw UTF-8 texts, for learning boilerplate.

    Lines are split as ``str.splitlines`` splits them; each non-empty
    ``storyclust.text.normalize(line)`` is hashed as ``hash_strings`` would hash it.
    Covered: ASCII, Latin-1 letters, no-break and typographic spaces, dashes, curly
    quotes and the ellipsis; a text with another character gets ``ok`` False and
    nothing here (normalise its lines in Python).

    Returns
    -------
    hashes : ndarray of uint64, shape (n_lines,)
    words : ndarray of int64, shape (n_lines,)
        Words of each normalised line.
    line_offsets : ndarray of int64, shape (n_docs + 1,)
    ok : ndarray of bool, shape (n_docs,)

    Examples
    --------
    >>> from storyclust.text import hash_strings
    >>> data = np.frombuffer("Related  ARTICLES\\r\\n\\nSign up".encode(), dtype=np.uint8)
    >>> h, words, off, ok = line_hashes(data, np.array([0, len(data)]))
    >>> h.tolist() == hash_strings(["related articles", "sign up"]).tolist(), words.tolist()
    (True, [2, 2])
    """
    buf = np.ascontiguousarray(data, dtype=np.uint8)
    off = _as_offsets(offsets, len(buf))
    n_docs = len(off) - 1
    threads = _thread_count(n_threads, float(off[-1] - off[0]) * 32)
    parts = _run_parts(_lines_piece, (buf, off), off, threads)
    out_h, out_w, counts = _joined(parts, np.uint64, np.int64, np.int64)
    ok = counts >= 0
    line_off = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.maximum(counts, 0), out=line_off[1:])
    return out_h, out_w, line_off, ok


def strip_line_hashes(
    data: U8, offsets: I64, lines: U64, *, n_threads: int | None = None
) -> tuple[U8, I64, B1]:
    """Raw UTF-8 texts without the lines whose normalised hash is in `lines`.

    As ``"\\n".join(x for x in text.splitlines() if hash(normalize(x)) not in lines)``
    (see :func:`line_hashes`), for the texts :func:`line_hashes` covers; the others
    (``ok`` False) come back empty.

    Returns
    -------
    data : ndarray of uint8
    offsets : ndarray of int64, shape (n_docs + 1,)
    ok : ndarray of bool, shape (n_docs,)

    Examples
    --------
    >>> from storyclust.text import hash_strings
    >>> data = np.frombuffer("News\\nRELATED articles\\nMore".encode(), dtype=np.uint8)
    >>> out, off, ok = strip_line_hashes(data, np.array([0, len(data)]), hash_strings(["related articles"]))
    >>> out.tobytes().decode()
    'News\\nMore'
    """
    buf = np.ascontiguousarray(data, dtype=np.uint8)
    off = _as_offsets(offsets, len(buf))
    n_docs = len(off) - 1
    table = np.unique(np.asarray(lines, dtype=np.uint64))
    threads = _thread_count(n_threads, float(off[-1] - off[0]) * 32)
    # Joining by one newline never makes a text longer: write each in its own place.
    out = np.zeros(len(buf), dtype=np.uint8)
    out_len = np.zeros(n_docs, dtype=np.int64)
    _run(_strip_range, (buf, off, table, out, out_len), off, threads)
    ok = out_len >= 0
    length = np.maximum(out_len, 0)
    new_off = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(length, out=new_off[1:])
    _compact(out, off, new_off)
    return out[: new_off[-1]], new_off, ok


def shingle_hashes(
    token_hashes: U64, offsets: I64, k: int, *, n_threads: int | None = None
) -> tuple[U64, I64]:
    """Hash the contiguous k-token shingles of many documents at once.

    Parameters
    ----------
    token_hashes : ndarray of uint64, shape (n_tokens,)
        Token hashes of all documents, concatenated.
    offsets : ndarray of int64, shape (n_docs + 1,)
        Document d owns ``token_hashes[offsets[d]:offsets[d + 1]]``.
    k : int
        Shingle size in tokens (>= 1). A document shorter than k gives one shingle
        of all its tokens; an empty one gives none.
    n_threads : int, optional
        Threads to use; by default all CPUs for long inputs, one for short ones.

    Returns
    -------
    hashes : ndarray of uint64, shape (n_shingles,)
    shingle_offsets : ndarray of int64, shape (n_docs + 1,)

    Examples
    --------
    >>> h, off = shingle_hashes(np.arange(4, dtype=np.uint64), np.array([0, 3, 4]), 2)
    >>> off.tolist()
    [0, 2, 3]
    """
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    tokens = np.ascontiguousarray(token_hashes, dtype=np.uint64)
    off = _as_offsets(offsets, len(tokens))
    lengths = np.diff(off)
    n_sh = np.where(lengths >= k, lengths - k + 1, np.minimum(lengths, 1))
    sh_offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(n_sh, out=sh_offsets[1:])
    out = np.empty(int(sh_offsets[-1]), dtype=np.uint64)
    threads = _thread_count(n_threads, float(sh_offsets[-1]) * k)
    _run(_shingle_range, (tokens, off, sh_offsets, k, out), sh_offsets, threads)
    return out, sh_offsets


def minhash_params(num_perm: int, seed: int) -> tuple[U64, U64]:
    """Return the multiply-shift parameters (a, b) of `num_perm` permutations.

    ``a`` is odd; both come from ``numpy.random.Generator(PCG64(seed))``, the same
    on every machine.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    ab = rng.integers(
        0, np.iinfo(np.uint64).max, size=(2, num_perm), dtype=np.uint64, endpoint=True
    )
    return ab[0] | np.uint64(1), ab[1]


def minhash_signatures(
    shingles: U64,
    offsets: I64,
    *,
    num_perm: int = 128,
    seed: int = 1,
    n_threads: int | None = None,
) -> U32:
    """MinHash signatures of many documents.

    Parameters
    ----------
    shingles : ndarray of uint64, shape (n_shingles,)
        Shingle hashes of all documents, concatenated (see :func:`shingle_hashes`).
    offsets : ndarray of int64, shape (n_docs + 1,)
    num_perm : int, default 128
    seed : int, default 1
    n_threads : int, optional
        Threads to use; by default all CPUs for long inputs, one for short ones.
        The result is the same for any number.

    Returns
    -------
    ndarray of uint32, shape (n_docs, num_perm)
        Row d is the signature of document d; all ``EMPTY_VALUE`` if it has no shingles.

    Examples
    --------
    >>> sig = minhash_signatures(np.array([1, 2, 3], dtype=np.uint64), np.array([0, 3, 3]), num_perm=4)
    >>> sig.shape, bool((sig[1] == EMPTY_VALUE).all())
    ((2, 4), True)
    """
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1; got {num_perm}")
    a, b = minhash_params(num_perm, seed)
    sh = np.ascontiguousarray(shingles, dtype=np.uint64)
    off = _as_offsets(offsets, len(sh))
    out = np.full((len(off) - 1, num_perm), EMPTY_VALUE, dtype=np.uint32)
    threads = _thread_count(n_threads, float(off[-1] - off[0]) * num_perm)
    _run(_minhash_range, (sh, off, a, b, out), off, threads)
    return out


def text_signatures(
    data: U8,
    offsets: I64,
    *,
    k: int = 5,
    num_perm: int = 128,
    seed: int = 1,
    tokenized: bool = False,
    n_threads: int | None = None,
) -> tuple[U32, B1]:
    """MinHash signatures straight from text bytes, one document at a time.

    The same result as :func:`hash_raw_text` (or :func:`hash_token_text` when
    `tokenized`), then :func:`shingle_hashes` and :func:`minhash_signatures`, but
    without the token and shingle arrays of the whole input: memory stays at the
    longest document per thread.

    Parameters
    ----------
    data : ndarray of uint8, shape (n_bytes,)
        UTF-8 bytes of the documents, concatenated.
    offsets : ndarray of int64, shape (n_docs + 1,)
    k : int, default 5
        Shingle size in tokens.
    num_perm : int, default 128
    seed : int, default 1
    tokenized : bool, default False
        True if each document is its tokens joined by single spaces.
    n_threads : int, optional
        Threads to use; the result is the same for any number.

    Returns
    -------
    signatures : ndarray of uint32, shape (n_docs, num_perm)
    ok : ndarray of bool, shape (n_docs,)
        False for raw documents the compiled tokeniser does not cover (their row is
        all ``EMPTY_VALUE``; see :func:`hash_raw_text`). Always True when `tokenized`.

    Examples
    --------
    >>> data = np.frombuffer(b"the quick brown fox jumps", dtype=np.uint8)
    >>> sig, ok = text_signatures(data, np.array([0, 25]), k=2, num_perm=8)
    >>> sig.shape, ok.tolist()
    ((1, 8), [True])
    """
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1; got {num_perm}")
    a, b = minhash_params(num_perm, seed)
    buf = np.ascontiguousarray(data, dtype=np.uint8)
    off = _as_offsets(offsets, len(buf))
    n_docs = len(off) - 1
    out = np.full((n_docs, num_perm), EMPTY_VALUE, dtype=np.uint32)
    ok = np.ones(n_docs, dtype=np.bool_)
    # About one shingle per 6 bytes of text.
    threads = _thread_count(n_threads, float(off[-1] - off[0]) / 6 * num_perm)
    _run(_text_signature_range, (buf, off, not tokenized, k, a, b, out, ok), off, threads)
    return out, ok


def _false_positive(threshold: float, b: int, r: int) -> float:
    """Integral of the probability that a pair below `threshold` becomes a candidate."""
    return float(quad(lambda s: 1 - (1 - s ** float(r)) ** float(b), 0.0, threshold)[0])


def _false_negative(threshold: float, b: int, r: int) -> float:
    """Integral of the probability that a pair above `threshold` is missed."""
    return float(quad(lambda s: (1 - s ** float(r)) ** float(b), threshold, 1.0)[0])


def lsh_params(
    threshold: float,
    num_perm: int,
    *,
    false_positive_weight: float = 0.5,
    false_negative_weight: float = 0.5,
    min_recall: float | None = None,
) -> tuple[int, int]:
    """Choose (bands, rows) for LSH at a Jaccard `threshold`.

    Minimises the weighted sum of the false positive and false negative areas
    under the S-curve ``1 - (1 - s**r)**b`` over ``b * r <= num_perm``, as
    datasketch's ``MinHashLSH`` does. That balance finds a pair at exactly the
    threshold with probability of about one half; `min_recall` keeps only the
    choices that find it with at least that probability (and so every pair above).

    Parameters
    ----------
    threshold : float
        Jaccard similarity in (0, 1].
    num_perm : int
        Signature length (>= 1).
    false_positive_weight, false_negative_weight : float, default 0.5
    min_recall : float, optional
        In (0, 1): the least probability that a pair at `threshold` becomes a candidate.

    Returns
    -------
    (bands, rows) : tuple of int

    Raises
    ------
    ValueError
        For a setting out of range, or a `min_recall` no choice reaches.

    Examples
    --------
    >>> lsh_params(0.8, 128)
    (9, 13)
    >>> lsh_params(0.8, 128, min_recall=0.99)
    (16, 6)
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1]; got {threshold}")
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1; got {num_perm}")
    if min_recall is not None and not 0.0 < min_recall < 1.0:
        raise ValueError(f"min_recall must be in (0, 1); got {min_recall}")
    best, best_err = (1, num_perm), math.inf
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            if min_recall is not None and 1 - (1 - threshold**r) ** b < min_recall:
                continue
            err = false_positive_weight * _false_positive(
                threshold, b, r
            ) + false_negative_weight * _false_negative(threshold, b, r)
            if err < best_err:
                best, best_err = (b, r), err
    if best_err == math.inf:
        raise ValueError(
            f"min_recall {min_recall} cannot be reached at threshold {threshold} with "
            f"num_perm={num_perm}; lower min_recall or raise num_perm"
        )
    return best


def band_keys(signatures: U32, bands: int, rows: int, *, n_threads: int | None = None) -> U64:
    """Hash each band of `rows` signature values to one 64-bit key.

    Parameters
    ----------
    signatures : ndarray of uint32, shape (n_docs, num_perm)
    bands, rows : int
        ``bands * rows <= num_perm``; see :func:`lsh_params`.
    n_threads : int, optional
        Threads to use; the result is the same for any number.

    Returns
    -------
    ndarray of uint64, shape (n_docs, bands)
        Keys of different bands never need comparing; equal keys in one band mean
        (up to 2**-64 collisions) equal band values.
    """
    n = signatures.shape[0]
    if bands * rows > signatures.shape[1]:
        raise ValueError(
            f"bands * rows must be <= num_perm ({signatures.shape[1]}); got {bands} * {rows}"
        )
    sig = np.ascontiguousarray(signatures, dtype=np.uint32)
    out = np.empty((n, bands), dtype=np.uint64)
    per_doc = np.arange(n + 1, dtype=np.int64)
    threads = _thread_count(n_threads, float(n) * bands * rows * 4)
    _run(_band_key_range, (sig, bands, rows, out), per_doc, threads)
    return out


def _pairs_in_groups(members: I64, group_starts: I64, group_sizes: I64) -> tuple[I64, I64]:
    """All (members[p], members[q]) with p < q inside each group of a sorted array."""
    per_elem = np.repeat(group_sizes, group_sizes)
    pos_in_group = np.arange(len(per_elem)) - np.repeat(group_starts, group_sizes)
    counts = per_elem - 1 - pos_in_group
    first = np.repeat(np.arange(len(per_elem)), counts)
    seg_start = np.repeat(np.cumsum(counts) - counts, counts)
    second = first + 1 + (np.arange(len(first)) - seg_start)
    # positions are relative to the concatenated groups; map back to members
    return members[first], members[second]


def band_candidates(
    keys: U64, *, max_bucket_size: int = 200, valid: npt.NDArray[np.bool_] | None = None
) -> I64:
    """Candidate pairs: documents sharing a key in at least one band.

    Parameters
    ----------
    keys : ndarray of uint64, shape (n_docs, bands)
    max_bucket_size : int, default 200
        A bucket with more documents (boilerplate, empty texts) gives only the
        chain of neighbours in index order instead of all its pairs, so work stays
        linear; near-duplicates in it stay connected.
    valid : ndarray of bool, shape (n_docs,), optional
        Documents that may take part (e.g. those with shingles).

    Returns
    -------
    ndarray of int64, shape (n_pairs, 2)
        Unique pairs (i, j) with i < j, sorted.
    """
    n, n_bands = keys.shape
    idx_all = (
        np.arange(n, dtype=np.int64) if valid is None else np.flatnonzero(valid).astype(np.int64)
    )
    found: list[I64] = []
    for band in range(n_bands):
        col = keys[idx_all, band]
        order = np.lexsort((idx_all, col))
        sk, members = col[order], idx_all[order]
        if len(sk) < 2:
            continue
        bounds = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1], True])
        starts, sizes = bounds[:-1], np.diff(bounds)
        small = (sizes >= 2) & (sizes <= max_bucket_size)
        if small.any():
            keep = np.repeat(small, sizes)
            sub_sizes = sizes[small]
            sub_starts = np.zeros(len(sub_sizes), dtype=np.int64)
            np.cumsum(sub_sizes[:-1], out=sub_starts[1:])
            i, j = _pairs_in_groups(members[keep], sub_starts, sub_sizes)
            found.append(i * n + j)
        for s, z in zip(starts[sizes > max_bucket_size], sizes[sizes > max_bucket_size]):
            m = members[s : s + z]
            found.append(m[:-1] * n + m[1:])
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    code = np.unique(np.concatenate(found))
    return np.stack([code // n, code % n], axis=1)


def jaccard_estimates(signatures: U32, pairs: I64, *, chunk: int = 1 << 14) -> F64:
    """MinHash estimate of the Jaccard similarity of each pair.

    A pair where either document has no shingles scores 0.

    Returns
    -------
    ndarray of float64, shape (n_pairs,)
    """
    out: F64 = np.zeros(len(pairs))
    # In chunks: the two gathered signature rows of every pair at once would be
    # 1 KB a pair (820 MB for the 800,000 pairs of a million articles).
    for s in range(0, len(pairs), chunk):
        p = pairs[s : s + chunk]
        a, b = signatures[p[:, 0]], signatures[p[:, 1]]
        est = (a == b).mean(axis=1)
        empty = (a[:, 0] == EMPTY_VALUE) & (a == EMPTY_VALUE).all(axis=1)
        empty |= (b[:, 0] == EMPTY_VALUE) & (b == EMPTY_VALUE).all(axis=1)
        est[empty] = 0.0
        out[s : s + chunk] = est
    return out
