"""Normalising, tokenising, shingling and stable hashing of text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import storyclust
from storyclust import _reference as ref
from storyclust.text import (
    STOP_WORDS,
    char_shingles,
    hash_strings,
    normalize,
    tokenize,
    word_shingles,
)

# --- normalize --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("   ", ""),
        ("Ｔｏｋｙｏ  STRASSE\n", "tokyo strasse"),  # full-width forms (NFKC), case
        ("Straße", "strasse"),  # casefold, not lower
        ("ﬁnal", "final"),  # ligature (NFKC)
        ("x²", "x2"),  # superscript (NFKC)
        ("ΣΊΣΥΦΟΣ", "σίσυφοσ"),
        ("a\tb\n\nc\r\nd", "a b c d"),
        ("a\u00a0b\u3000c\u2003d", "a b c d"),  # no-break, ideographic, em spaces
        ("  lead and trail  ", "lead and trail"),
        ("e\u0301", "\u00e9"),  # decomposed accent composed
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@settings(deadline=None, max_examples=100)
@given(st.text())
def test_normalize_is_idempotent_and_trimmed(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.strip()
    assert "  " not in once


# --- tokenize ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("  \n ", []),
        ("Quake hits Tokyo: 7.1 magnitude", ["quake", "hits", "tokyo", "7", "1", "magnitude"]),
        ("Don't stop-me now!", ["don", "t", "stop", "me", "now"]),
        ("snake_case word", ["snake_case", "word"]),
        ("Привет, Мир!", ["привет", "мир"]),
        ("مرحبا بالعالم", ["مرحبا", "بالعالم"]),
        ("מזג אוויר", ["מזג", "אוויר"]),
        ("Việt Nam", ["việt", "nam"]),
        # Unspaced scripts: every character is a token.
        ("東京で地震", ["東", "京", "で", "地", "震"]),
        ("カタカナ ひらがな", ["カ", "タ", "カ", "ナ", "ひ", "ら", "が", "な"]),
        ("北京2024年", ["北", "京", "2024", "年"]),
        ("Tokyo東京", ["tokyo", "東", "京"]),
        ("ภาษาไทย", ["ภ", "า", "ษ", "า", "ไ", "ท", "ย"]),
        # Digits, in any script; full-width digits become ASCII under NFKC.
        ("GDP 3.5% Q2 ２０２４", ["gdp", "3", "5", "q2", "2024"]),
        ("٣٤ ४२", ["٣٤", "४२"]),
    ],
)
def test_tokenize(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Vowel signs and viramas (marks, not \w) stay inside their word.
        ("हिन्दी समाचार", ["हिन्दी", "समाचार"]),
        ("தமிழ் செய்தி", ["தமிழ்", "செய்தி"]),
        ("শুভ সকাল", ["শুভ", "সকাল"]),
        # Pointed Hebrew and vocalised Arabic keep their points.
        ("שָׁלוֹם", ["שָׁלוֹם"]),
        ("مُحَمَّد", ["مُحَمَّد"]),
        # Case-folded "İ" is "i" plus a combining dot: still one word.
        ("İstanbul", ["i\u0307stanbul"]),
        ("x\u0301y", ["x\u0301y"]),
        # A stray mark with no base character is not a token.
        ("\u0301 abc", ["abc"]),
    ],
)
def test_tokenize_keeps_combining_marks_in_words(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_tokenize_thai_tone_mark_is_its_own_token() -> None:
    assert tokenize("ง่าย") == ["ง", "\u0e48", "า", "ย"]


def test_tokenize_stop_words() -> None:
    text = "The quake hit the city and it said so"
    assert tokenize(text, stop_words=STOP_WORDS) == ["quake", "hit", "city"]
    assert tokenize(text, stop_words=["quake", "city"]) == [
        "the",
        "hit",
        "the",
        "and",
        "it",
        "said",
        "so",
    ]
    # Any iterable will do, even a one-shot iterator.
    assert tokenize(text, stop_words=iter(["the", "and", "it", "said", "so"])) == [
        "quake",
        "hit",
        "city",
    ]
    assert tokenize(text, stop_words=[]) == tokenize(text)


def test_stop_words_are_normalised_tokens() -> None:
    for word in STOP_WORDS:
        assert tokenize(word) == [word]


@settings(deadline=None, max_examples=100)
@given(st.text())
def test_tokens_are_normalised_and_nonempty(text: str) -> None:
    for token in tokenize(text):
        assert token
        assert normalize(token) == token
        assert " " not in token


# Scripts with and without spaces, combining marks (alone and after letters), and the
# characters whose NFKC form is a letter: the word pattern must match the reference's.
marked_text = st.text(
    alphabet=st.sampled_from(
        list("ab Z9_ .-")
        + list("éß東京ภาษา")
        + ["\u0301", "\u0308", "\u093f", "\u05b7", "\u0e48"]
        + list("ｱＡ①ﬁİ")
        + ["\u00a0", "\u2003"]
    ),
    max_size=40,
)


@settings(deadline=None, max_examples=300)
@given(st.one_of(st.text(), marked_text))
def test_tokenize_equals_reference(text: str) -> None:
    assert tokenize(text) == ref.tokenize(text)


# --- word_shingles, char_shingles -------------------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "k", "expected"),
    [
        (["a", "b", "c"], 2, ["a b", "b c"]),
        (["a", "b", "c"], 1, ["a", "b", "c"]),
        (["a", "b", "c"], 3, ["a b c"]),
        (["a", "b", "c"], 4, ["a b c"]),  # shorter than k: one shingle of all
        (["a"], 5, ["a"]),
        ([], 1, []),
        ([], 5, []),
    ],
)
def test_word_shingles(tokens: list[str], k: int, expected: list[str]) -> None:
    assert word_shingles(tokens, k=k) == expected


@pytest.mark.parametrize(
    ("text", "k", "expected"),
    [
        ("Abc D", 3, ["abc", "bc ", "c d"]),
        ("abc", 1, ["a", "b", "c"]),
        ("abc", 3, ["abc"]),
        ("  AB  ", 5, ["ab"]),  # shorter than k after normalising
        ("東京", 1, ["東", "京"]),
        ("", 3, []),
        ("   ", 1, []),
    ],
)
def test_char_shingles(text: str, k: int, expected: list[str]) -> None:
    assert char_shingles(text, k=k) == expected


@pytest.mark.parametrize("k", [0, -1])
def test_shingles_reject_bad_k(k: int) -> None:
    with pytest.raises(ValueError, match=rf"^k must be >= 1; got {k}$"):
        word_shingles(["a", "b"], k=k)
    with pytest.raises(ValueError, match=rf"^k must be >= 1; got {k}$"):
        char_shingles("ab", k=k)
    with pytest.raises(ValueError, match=rf"^k must be >= 1; got {k}$"):
        word_shingles([], k=k)


@settings(deadline=None, max_examples=100)
@given(
    tokens=st.lists(st.sampled_from(["a", "b", "c", "東", "مرحبا"]), max_size=8),
    k=st.integers(1, 6),
)
def test_word_shingle_count(tokens: list[str], k: int) -> None:
    shingles = word_shingles(tokens, k=k)
    assert len(shingles) == (0 if not tokens else max(len(tokens) - k + 1, 1))
    if tokens:
        assert shingles[0].split(" ") == tokens[:k]


# --- hash_strings -----------------------------------------------------------------------

# FNV-1a 64 test vectors from the FNV reference test suite.
FNV1A_64_VECTORS = {
    "": 0xCBF29CE484222325,
    "a": 0xAF63DC4C8601EC8C,
    "b": 0xAF63DF4C8601F1A5,
    "c": 0xAF63DE4C8601EFF2,
    "foo": 0xDCB27518FED9D577,
    "foob": 0xDD120E790C2512AF,
    "fooba": 0xCAC165AFA2FEF40A,
    "foobar": 0x85944171F73967E8,
}

STABLE_STRINGS = ["", "a", "foobar", "東京", "привет", "مرحبا", "हिन्दी", "🙂", "a b c"]


def test_hash_strings_known_vectors() -> None:
    strings = list(FNV1A_64_VECTORS)
    got = hash_strings(strings)
    assert got.dtype == np.uint64
    assert got.shape == (len(strings),)
    assert [int(v) for v in got] == list(FNV1A_64_VECTORS.values())
    assert [int(v) for v in ref.hash_strings(strings)] == list(FNV1A_64_VECTORS.values())


def test_hash_strings_empty_input() -> None:
    got = hash_strings([])
    assert got.dtype == np.uint64
    assert got.shape == (0,)


def test_hash_strings_each_string_alone_equals_batch() -> None:
    batch = hash_strings(STABLE_STRINGS).tolist()
    assert batch == [int(hash_strings([s])[0]) for s in STABLE_STRINGS]


@settings(deadline=None, max_examples=200)
@given(
    st.lists(
        st.one_of(
            st.text(),
            # Lone surrogates too: hashed through "surrogatepass", never an error.
            st.text(alphabet=st.characters(categories=["Cs"]) | st.characters(), max_size=10),
        ),
        max_size=12,
    )
)
def test_hash_strings_equals_reference(strings: list[str]) -> None:
    assert hash_strings(strings).tolist() == ref.hash_strings(strings).tolist()


def test_hash_strings_same_in_another_process() -> None:
    src = Path(storyclust.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONHASHSEED": "123", "PYTHONPATH": str(src)}
    code = (
        "import json, sys; from storyclust.text import hash_strings; "
        "print(json.dumps(hash_strings(json.loads(sys.argv[1])).tolist()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(STABLE_STRINGS)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(out.stdout) == hash_strings(STABLE_STRINGS).tolist()
