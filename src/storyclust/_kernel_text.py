"""Text in, hashes out: the tokeniser, term counts, names and figures, lines and boilerplate.

The checked, threaded front of the compiled text scanners in
:mod:`storyclust._kernel_scan`: token hashes from raw or tokenised text
(:func:`hash_raw_text`, :func:`hash_token_text`, :func:`raw_words`), weighted term
counts (:func:`term_counts`), name and figure hashes (:func:`names_raw_text`), and
normalised-line hashes with the strip that drops boilerplate lines
(:func:`line_hashes`, :func:`strip_line_hashes`). Part of
:mod:`storyclust.similarity`, which is where callers import them from.
"""

from __future__ import annotations

import numpy as np

from ._kernel_base import B1, I64, U8, U64, _as_offsets, _joined, _run, _run_parts, _thread_count
from ._kernel_scan import (
    _compact,
    _count_tokens,
    _lines_piece,
    _names_piece,
    _strip_range,
    _term_count_range,
    _tokens_piece,
    _words_range,
)

__all__ = [
    "hash_raw_text",
    "hash_token_text",
    "line_hashes",
    "names_raw_text",
    "raw_words",
    "strip_line_hashes",
    "term_counts",
]


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
