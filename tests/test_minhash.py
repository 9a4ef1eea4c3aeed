"""Public MinHash entry points: shingles, signatures (both schemes), to_datasketch."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH
from hypothesis import given, settings
from hypothesis import strategies as st

import storyclust
from storyclust import _kernel_base, minhash
from storyclust import similarity as sim
from storyclust.errors import InputTypeError, SettingsError
from storyclust.text import hash_strings, tokenize, word_shingles

# Latin, accented Latin, typographic punctuation, Cyrillic, Arabic, CJK, combining marks.
alphabet = st.sampled_from(
    list("abc xyz XYZ 123 .,!?'\n")
    + list("éÉßçø—’“”…\u00a0")
    + list("Привет мир")
    + list("مرحبا")
    + list("東京で地震")
    + ["\u0301", "\u0308"]
)
texts_strategy = st.lists(
    st.one_of(st.just(""), st.text(alphabet=alphabet, max_size=50), st.text(max_size=15)),
    max_size=6,
)
few = settings(deadline=None, max_examples=60)


def kernel_signatures(texts: list[str], num_perm: int, seed: int, k: int) -> np.ndarray:
    """The same signatures through the kernel's array functions, step by step."""
    tokens = [tokenize(t) for t in texts]
    offsets = np.array([0] + [len(t) for t in tokens], dtype=np.int64).cumsum()
    h = hash_strings([w for t in tokens for w in t])
    sh, sh_off = sim.shingle_hashes(h, offsets, k)
    return sim.minhash_signatures(sh, sh_off, num_perm=num_perm, seed=seed)


def datasketch_minhash(text: str, num_perm: int, seed: int, k: int = 5) -> MinHash:
    """What a datasketch user builds: MinHash updated with each UTF-8 shingle."""
    m = MinHash(num_perm=num_perm, seed=seed)
    for s in storyclust.shingles(text, k):
        m.update(s.encode("utf-8"))
    return m


# --- shingles ---------------------------------------------------------------------------


def test_shingles_examples() -> None:
    assert storyclust.shingles("The quick brown fox jumps over", k=5) == [
        "the quick brown fox jumps",
        "quick brown fox jumps over",
    ]
    assert storyclust.shingles("Quake!", k=3) == ["quake"]
    assert storyclust.shingles("  ...  ") == []
    assert storyclust.shingles("東京で", k=2) == ["東 京", "京 で"]


@few
@given(text=st.text(alphabet=alphabet, max_size=60), k=st.integers(1, 6))
def test_shingles_are_word_shingles_of_tokens(text: str, k: int) -> None:
    got = storyclust.shingles(text, k)
    assert got == word_shingles(tokenize(text), k)
    n = len(tokenize(text))
    assert len(got) == (0 if n == 0 else max(n - k + 1, 1))


def test_shingles_reject_bad_arguments() -> None:
    with pytest.raises(InputTypeError, match=r"text must be a str; got bytes"):
        storyclust.shingles(b"abc")  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match=r"k must be >= 1; got 0"):
        storyclust.shingles("abc", k=0)
    with pytest.raises(SettingsError, match=r"k must be an int; got float 2.5"):
        storyclust.shingles("abc", k=2.5)  # type: ignore[arg-type]


# --- signatures, "storyclust" scheme ----------------------------------------------------


@few
@given(
    texts=texts_strategy,
    num_perm=st.sampled_from([1, 5, 64, 128]),
    seed=st.integers(0, 2**40),
    k=st.integers(1, 5),
)
def test_signatures_equal_the_kernel_steps(
    texts: list[str], num_perm: int, seed: int, k: int
) -> None:
    got = storyclust.signatures(texts, num_perm=num_perm, seed=seed, k=k)
    assert got.dtype == np.uint32
    assert got.shape == (len(texts), num_perm)
    assert np.array_equal(got, kernel_signatures(texts, num_perm, seed, k))


def test_signatures_in_batches_and_threads_are_the_same() -> None:
    rng = np.random.default_rng(1)
    words = ["alpha", "beta", "Gamma", "délta", "эпсилон", "東", "—", "zeta"]
    texts = [" ".join(rng.choice(words, size=rng.integers(0, 60))) for _ in range(50)]
    whole = storyclust.signatures(texts, n_threads=1)
    with (
        mock.patch.object(minhash, "_BATCH", 7),
        mock.patch.object(_kernel_base, "_MIN_PARALLEL_WORK", 0),
    ):
        for n_threads in (1, 2, None):
            assert np.array_equal(storyclust.signatures(texts, n_threads=n_threads), whole)
    assert np.array_equal(whole, kernel_signatures(texts, 128, 1, 5))


def test_signatures_accept_any_iterable_of_str() -> None:
    texts = ["one two three", "four five six seven"]
    want = storyclust.signatures(texts)
    assert np.array_equal(storyclust.signatures(tuple(texts)), want)
    assert np.array_equal(storyclust.signatures(t for t in texts), want)
    assert np.array_equal(storyclust.signatures(np.array(texts)), want)
    assert storyclust.signatures([]).shape == (0, 128)


def test_empty_text_has_empty_value_row() -> None:
    sig = storyclust.signatures(["", "!!!", "word"], num_perm=8)
    assert (sig[:2] == sim.EMPTY_VALUE).all()
    assert not (sig[2] == sim.EMPTY_VALUE).all()


# --- signatures, "datasketch" scheme ----------------------------------------------------


@few
@given(
    texts=texts_strategy,
    num_perm=st.sampled_from([1, 2, 7, 64, 128, 256]),
    seed=st.one_of(st.sampled_from([0, 1, 42, 2**32 - 1]), st.integers(0, 2**32 - 1)),
)
def test_datasketch_scheme_is_bit_identical_to_datasketch(
    texts: list[str], num_perm: int, seed: int
) -> None:
    got = storyclust.signatures(texts, num_perm=num_perm, seed=seed, scheme="datasketch")
    assert got.dtype == np.uint32
    assert got.shape == (len(texts), num_perm)
    for text, row in zip(texts, got):
        want = datasketch_minhash(text, num_perm, seed).hashvalues
        assert want.dtype == np.uint32
        assert row.tolist() == want.tolist()


def test_datasketch_scheme_equals_minhash_bulk_on_news_text() -> None:
    texts = [
        "TOKYO (Reuters) - Japan’s Prime Minister Fumio Kishida will dissolve the lower house.",
        "Japanese PM Kishida to dissolve parliament – snap election on October 31",
        "",
        "Президент заявил, что выборы пройдут в октябре.",
        "東京で地震があった。気象庁によると、マグニチュードは7.1。",
        "naïve café résumé Zürich ß",
    ]
    for k in (1, 3, 5):
        bulk = MinHash.bulk([[s.encode("utf-8") for s in storyclust.shingles(t, k)] for t in texts])
        got = storyclust.signatures(texts, scheme="datasketch", k=k)
        assert got.tolist() == [m.hashvalues.tolist() for m in bulk]


def test_datasketch_scheme_jaccard_matches_datasketch() -> None:
    a = "the cabinet met on monday to discuss the budget and the new tax on fuel imports"
    b = a.replace("monday", "tuesday")
    sig = storyclust.signatures([a, b], scheme="datasketch", k=3)
    ours = storyclust.to_datasketch(sig[0]).jaccard(storyclust.to_datasketch(sig[1]))
    assert ours == datasketch_minhash(a, 128, 1, 3).jaccard(datasketch_minhash(b, 128, 1, 3))


# --- to_datasketch ----------------------------------------------------------------------


def test_to_datasketch_equals_datasketchs_own_lean_minhash() -> None:
    texts = ["Quake hits Tokyo, killing three", "", "Президент заявил"]
    for seed in (1, 7):
        sig = storyclust.signatures(texts, num_perm=64, seed=seed, scheme="datasketch")
        for text, row in zip(texts, sig):
            lean = storyclust.to_datasketch(row, seed=seed)
            assert isinstance(lean, LeanMinHash)
            assert lean == LeanMinHash(datasketch_minhash(text, 64, seed))
            assert lean.jaccard(datasketch_minhash(text, 64, seed)) == 1.0


def test_to_datasketch_rows_work_in_minhash_lsh() -> None:
    base = " ".join(f"word{i}" for i in range(200))
    texts = [base, base.replace(" word17 ", " changed "), "something else entirely here today"]
    sig = storyclust.signatures(texts, scheme="datasketch")
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    for i, row in enumerate(sig):
        lsh.insert(i, storyclust.to_datasketch(row))
    assert sorted(lsh.query(datasketch_minhash(texts[1], 128, 1))) == [0, 1]
    # Rows of the fast scheme form an index of their own.
    fast = MinHashLSH(threshold=0.8, num_perm=128)
    own = storyclust.signatures(texts)
    for i, row in enumerate(own):
        fast.insert(i, storyclust.to_datasketch(row))
    assert sorted(fast.query(storyclust.to_datasketch(own[0]))) == [0, 1]


def test_to_datasketch_round_trips_through_bytes() -> None:
    row = storyclust.signatures(["a short text to hash"], scheme="datasketch")[0]
    lean = storyclust.to_datasketch(row)
    buf = bytearray(lean.bytesize())
    lean.serialize(buf)
    assert LeanMinHash.deserialize(buf) == lean


@pytest.mark.parametrize(
    ("row", "error", "message"),
    [
        (np.zeros((2, 4), dtype=np.uint32), InputTypeError, r"1-d array of integers .* got 2-d"),
        (np.zeros(4), InputTypeError, r"1-d array of integers .* got 1-d float64"),
        (np.zeros(0, dtype=np.uint32), SettingsError, r"at least one value; got an empty row"),
        (np.array([1, -1]), SettingsError, r"values must be in \[0, 2\*\*32 - 1\]; got -1\.\.1"),
        (np.array([2**32]), SettingsError, r"got 4294967296\.\.4294967296"),
    ],
)
def test_to_datasketch_rejects_bad_rows(row: np.ndarray, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        storyclust.to_datasketch(row)


def test_to_datasketch_rejects_bad_seed() -> None:
    with pytest.raises(SettingsError, match=r"seed must be in \[0, 4294967295\]; got -1"):
        storyclust.to_datasketch(np.zeros(4, dtype=np.uint32), seed=-1)


# --- argument checks --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"texts": "one text"}, InputTypeError, r"not a single str; wrap it in a list"),
        ({"texts": b"bytes"}, InputTypeError, r"not a single bytes"),
        ({"texts": 42}, InputTypeError, r"iterable of str; got int"),
        ({"texts": ["ok", 3]}, InputTypeError, r"texts\[1\] must be a str; got int"),
        ({"texts": ["ok"], "num_perm": 0}, SettingsError, r"num_perm must be >= 1; got 0"),
        ({"texts": ["ok"], "num_perm": "8"}, SettingsError, r"num_perm must be an int; got str"),
        ({"texts": ["ok"], "k": 0}, SettingsError, r"k must be >= 1; got 0"),
        ({"texts": ["ok"], "seed": -1}, SettingsError, r"seed must be >= 0; got -1"),
        (
            {"texts": ["ok"], "seed": 2**32, "scheme": "datasketch"},
            SettingsError,
            r"seed must be in \[0, 4294967295\]; got 4294967296",
        ),
        (
            {"texts": ["ok"], "scheme": "sha1"},
            SettingsError,
            r"scheme must be one of 'storyclust', 'datasketch'; got 'sha1'",
        ),
        ({"texts": ["ok"], "n_threads": 0}, SettingsError, r"n_threads must be >= 1; got 0"),
    ],
)
def test_signatures_reject_bad_arguments(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        storyclust.signatures(**kwargs)


def test_public_names() -> None:
    for name in ("shingles", "signatures", "to_datasketch"):
        assert name in storyclust.__all__
        assert getattr(storyclust, name) is getattr(minhash, name)
