"""Text normalisation, tokenising, shingling and stable token hashing.

Everything here is deterministic across machines and processes: token hashes are
64-bit FNV-1a over UTF-8 bytes, never Python's salted ``hash``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "STOP_WORDS",
    "char_shingles",
    "hash_strings",
    "normalize",
    "tokenize",
    "word_shingles",
]


def _mark_ranges() -> str:
    """Regex class ranges of the combining marks (category M*) that ``\\w`` does not match."""
    word = re.compile(r"\w")
    ranges: list[list[int]] = []
    # Marks live in planes 0-1, plus the variation selectors of plane 14.
    for cp in [*range(0x20000), *range(0xE0100, 0xE01F0)]:
        ch = chr(cp)
        if unicodedata.category(ch)[0] == "M" and not word.match(ch):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    return "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges)


# A word starts with a letter, digit or underscore and keeps its combining marks:
# vowel signs (Hindi, Tamil), niqqud and harakat, the dot of a case-folded "İ".
# Written as \w+(marks+ \w*)* rather than \w[\w marks]*: the same words, but the
# lookahead rejects an ASCII character before the long class of marks is scanned.
_WORD = re.compile(rf"\w+(?:(?=[^\x00-\x7f])[{_mark_ranges()}]+\w*)*")
_SPACE = re.compile(r"\s+")
# Scripts written without spaces between words: each character is a token.
_UNSPACED = re.compile(
    r"[\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff"  # Thai, Lao, Myanmar, Khmer
    r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # kana, CJK ideographs
    r"\U00020000-\U0002fa1f]"
)

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)

# English function words: they carry no story, and news is mostly English. Other
# languages are still tokenised; their function words are damped by IDF instead.
STOP_WORDS: frozenset[str] = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "also",
        "said",
        "says",
        "say",
        "told",
    ]
)


def normalize(text: str) -> str:
    """Return `text` in NFKC form, case-folded, with runs of white space as one space.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    str
        The normalised text.

    Examples
    --------
    >>> normalize("Ｔｏｋｙｏ  STRASSE\\n")
    'tokyo strasse'
    """
    if text.isascii():  # the same, faster: NFKC keeps ASCII, casefold is lower
        return " ".join(text.lower().split())
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def tokenize(text: str, *, stop_words: Iterable[str] | None = None) -> list[str]:
    """Split `text` into normalised word tokens, for any script.

    Words are runs of letters, digits and underscores after :func:`normalize`;
    in scripts written without spaces (Chinese, Japanese, Thai, ...) every
    character is a token.

    Parameters
    ----------
    text : str
        Any text.
    stop_words : iterable of str, optional
        Tokens to drop (already normalised), e.g. :data:`STOP_WORDS`.

    Returns
    -------
    list of str

    Examples
    --------
    >>> tokenize("Quake hits Tokyo: 7.1 magnitude")
    ['quake', 'hits', 'tokyo', '7', '1', 'magnitude']
    >>> tokenize("東京で地震")
    ['東', '京', 'で', '地', '震']
    """
    # normalize() without its white-space pass: white space never enters a word.
    folded = unicodedata.normalize("NFKC", text).casefold()
    out: list[str] = _WORD.findall(folded)
    if _UNSPACED.search(folded):
        out = [t for word in out for t in _split_unspaced(word)]
    if stop_words is not None:
        stop = stop_words if isinstance(stop_words, (set, frozenset)) else frozenset(stop_words)
        out = [t for t in out if t not in stop]
    return out


def _split_unspaced(word: str) -> list[str]:
    """Split a token that mixes unspaced-script characters into single characters."""
    if not _UNSPACED.search(word):
        return [word]
    out: list[str] = []
    run = ""
    for ch in word:
        if _UNSPACED.match(ch):
            if run:
                out.append(run)
                run = ""
            out.append(ch)
        else:
            run += ch
    if run:
        out.append(run)
    return out


def word_shingles(tokens: Sequence[str], k: int = 5) -> list[str]:
    """Return the contiguous `k`-token shingles of `tokens`, joined by one space.

    A text shorter than `k` tokens gives one shingle of all its tokens (so short
    texts still have a signature); an empty text gives none.

    Examples
    --------
    >>> word_shingles(["a", "b", "c"], k=2)
    ['a b', 'b c']
    >>> word_shingles(["a"], k=3)
    ['a']
    """
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    if not tokens:
        return []
    if len(tokens) <= k:
        return [" ".join(tokens)]
    return [" ".join(tokens[i : i + k]) for i in range(len(tokens) - k + 1)]


def char_shingles(text: str, k: int = 5) -> list[str]:
    """Return the `k`-character shingles of the normalised `text`.

    Examples
    --------
    >>> char_shingles("Abc D", k=3)
    ['abc', 'bc ', 'c d']
    """
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    t = normalize(text)
    if not t:
        return []
    if len(t) <= k:
        return [t]
    return [t[i : i + k] for i in range(len(t) - k + 1)]


def hash_strings(strings: Sequence[str]) -> npt.NDArray[np.uint64]:
    """Hash strings to 64-bit integers with FNV-1a over their UTF-8 bytes.

    Stable across machines, processes and Python versions (unlike ``hash``), and
    vectorised: the loop runs over byte positions, not over strings.

    Parameters
    ----------
    strings : sequence of str

    Returns
    -------
    ndarray of uint64, shape (len(strings),)

    Examples
    --------
    >>> int(hash_strings(["a"])[0]) == 0xAF63DC4C8601EC8C
    True
    """
    n = len(strings)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
    lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=n)
    # Longest first, so the strings still being hashed at byte position p are a prefix.
    order = np.argsort(-lengths, kind="stable")
    sorted_len = lengths[order]
    buf = np.frombuffer(b"".join(encoded[i] for i in order), dtype=np.uint8)
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(sorted_len[:-1], out=starts[1:])
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    max_len = int(sorted_len[0])
    # active[p] = number of strings longer than p
    active_counts = np.searchsorted(-sorted_len, -np.arange(max_len), side="left")
    with np.errstate(over="ignore"):
        for p in range(max_len):
            m = int(active_counts[p])
            byte = buf[starts[:m] + p].astype(np.uint64)
            h[:m] = (h[:m] ^ byte) * _FNV_PRIME
    out = np.empty(n, dtype=np.uint64)
    out[order] = h
    return out


_SENTENCE_WORD = re.compile(r"(^|[.!?:;\"“”]\s+|\n\s*)?(\w[\w'’-]*)")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")


def names_and_numbers(text: str, *, title: str = "") -> list[str]:
    """Capitalised words (names) and figures of a text, normalised, in order.

    No NLP model: a name is a word that starts with a capital letter in the middle
    of a sentence, and is not a stop word; a sentence-initial capitalised word
    counts only if the text also capitalises it mid-sentence. Words of a
    `title` count only where the text uses them as names, or where the title is
    not in Title Case. Figures are digit runs of two or more characters (decimals
    and separators kept, thousands commas dropped). Scripts without case give only
    figures.

    Examples
    --------
    >>> names_and_numbers("Rescuers in Mamuju found 8 bodies. Officials in West Sulawesi said 1,200 fled.")
    ['mamuju', 'west', 'sulawesi', '1200']
    """
    mid: list[str] = []
    initial: list[str] = []
    for m in _SENTENCE_WORD.finditer(text):
        word = m.group(2)
        if not word[0].isupper():
            continue
        key = word.casefold().replace("’", "'")
        if key in STOP_WORDS or (key.endswith("'s") and key[:-2] in STOP_WORDS):
            continue
        key = key[:-2] if key.endswith("'s") else key
        starts_sentence = m.start(2) == 0 or m.group(1) is not None
        (initial if starts_sentence else mid).append(key)
    names = set(mid)
    out = [w for w in mid] + [w for w in initial if w in names]
    keys, if_named, figures = title_names(title)
    out.extend(keys)
    out.extend(w for w in if_named if w in names)
    out.extend(figures)
    out.extend(_figures(text))
    return out


def _figures(text: str) -> list[str]:
    """Figures of a text: digit runs with separators, thousands commas dropped, two characters or more."""
    numbers = [n.replace(",", "") for n in _NUMBER.findall(text)]
    return [n for n in numbers if len(n) >= 2]


def title_names(title: str) -> tuple[list[str], list[str], list[str]]:
    """What a title adds to :func:`names_and_numbers`: its capitalised words and figures.

    Returns
    -------
    keys : list of str
        Capitalised words that count as names whatever the text says (the title is
        not in Title Case).
    if_named : list of str
        Capitalised words of a Title Case title: they count only where the text uses
        them as names.
    figures : list of str
    """
    keys: list[str] = []
    if_named: list[str] = []
    if title:
        words = [w for w in _WORD.findall(title) if not w.isdigit()]
        capitalised = [w for w in words if w[0].isupper()]
        title_case = len(words) >= 3 and len(capitalised) >= 0.6 * len(words)
        for w in capitalised:
            key = w.casefold()
            if key not in STOP_WORDS:
                (if_named if title_case else keys).append(key)
    return keys, if_named, _figures(title)
