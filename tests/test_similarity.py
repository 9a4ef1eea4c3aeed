"""The similarity kernel agrees with its slow reference, and keeps its promises."""

from __future__ import annotations

import itertools
from unittest import mock

import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import storyclust
from storyclust import _kernel_base
from storyclust import _reference as ref
from storyclust import similarity as sim
from storyclust.text import STOP_WORDS, hash_strings, tokenize

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]

MAX_U64 = 2**64 - 1
EMPTY = int(sim.EMPTY_VALUE)

# A few distinct token hashes (so shingles repeat and collide) plus any 64-bit value.
token_hash = st.one_of(st.sampled_from([0, 1, 2, MAX_U64]), st.integers(0, MAX_U64))
doc_tokens = st.lists(token_hash, max_size=9)
documents = st.lists(doc_tokens, max_size=6)
small_settings = settings(deadline=None, max_examples=60)

# Words from scripts with and without spaces, and random unicode, for tokenize.
mixed_alphabet = st.sampled_from(
    list("abc xyz 123 ") + list("東京地震で大") + list("مرحبا بالعالم") + list("Привет мир")
)
any_text = st.one_of(
    st.just(""),
    st.text(max_size=40),
    st.text(alphabet=mixed_alphabet, max_size=40),
)


def flatten(docs: list[list[int]], start: int = 0) -> tuple[U64, I64]:
    """Concatenate per-document values into (values, offsets), the kernel's layout."""
    values = np.array([v for d in docs for v in d], dtype=np.uint64)
    offsets = np.array([0] + [len(d) for d in docs], dtype=np.int64).cumsum() + start
    return np.concatenate([np.zeros(start, dtype=np.uint64), values]), offsets


def tokens_to_hashes(texts: list[str]) -> tuple[U64, I64]:
    """Token hashes and offsets of `texts`, tokenised by storyclust.text."""
    tokens = [tokenize(t) for t in texts]
    flat = [w for ts in tokens for w in ts]
    offsets = np.array([0] + [len(ts) for ts in tokens], dtype=np.int64).cumsum()
    return hash_strings(flat), offsets


@st.composite
def signature_matrices(draw: st.DrawFn, max_docs: int = 8, max_perm: int = 12) -> U32:
    """Small uint32 signatures whose values collide often; some rows all EMPTY_VALUE."""
    n = draw(st.integers(0, max_docs))
    p = draw(st.integers(1, max_perm))
    value = st.one_of(st.sampled_from([0, 1, EMPTY]), st.integers(0, EMPTY))
    rows = [
        [EMPTY] * p
        if draw(st.booleans()) and draw(st.booleans())
        else draw(st.lists(value, min_size=p, max_size=p))
        for _ in range(n)
    ]
    return np.array(rows, dtype=np.uint32).reshape(n, p)


@st.composite
def unit_rows(draw: st.DrawFn) -> sp.csr_matrix:
    """A small sparse non-negative matrix with L2-normalised rows (zero rows allowed)."""
    n = draw(st.integers(0, 9))
    m = draw(st.integers(1, 6))
    # Small integer weights make exact ties between neighbours common.
    weight = st.one_of(st.sampled_from([0.0, 0.0, 1.0, 2.0]), st.floats(0.0, 10.0))
    dense = np.array(
        draw(st.lists(st.lists(weight, min_size=m, max_size=m), min_size=n, max_size=n)),
        dtype=np.float64,
    ).reshape(n, m)
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    dense = np.divide(dense, norms, out=np.zeros_like(dense), where=norms > 0)
    x = sp.csr_matrix(dense)
    x.sort_indices()
    return x


def pair_arrays(n: int) -> st.SearchStrategy[I64]:
    """Random (i, j) index pairs into n rows, i == j included."""
    if n == 0:
        return st.just(np.zeros((0, 2), dtype=np.int64))
    idx = st.integers(0, n - 1)
    return st.lists(st.tuples(idx, idx), max_size=15).map(
        lambda ps: np.array(ps, dtype=np.int64).reshape(len(ps), 2)
    )


def assert_pairs_sorted_unique(pairs: I64) -> None:
    """Pairs are int64 (n, 2), i < j, strictly increasing in (i, j)."""
    assert pairs.dtype == np.int64
    assert pairs.ndim == 2
    assert pairs.shape[1] == 2
    assert (pairs[:, 0] < pairs[:, 1]).all()
    as_tuples = [tuple(p) for p in pairs.tolist()]
    assert as_tuples == sorted(set(as_tuples))


# --- hash_token_text, hash_raw_text, text_signatures ------------------------------------

# Characters the compiled tokeniser handles (letters, digits, punctuation of ASCII and
# Latin-1, typographic punctuation) and some it hands back to Python (other scripts,
# combining marks, characters whose NFKC form is a letter or digit).
covered_alphabet = st.sampled_from(
    list("abcXYZ019_ .,;:!?'\"-()\n\t")
    + list("ÀÉÎÕÜÿßçØæÞð×÷")
    + list("\u00a0«»©®°±·¿\u00ad")
    + list(
        "\u2010\u2013\u2014\u2018\u2019\u201c\u201d\u2026\u2022\u2009\u200b\u2028\u20ac\u3000\ufeff"
    )
)
uncovered_alphabet = st.sampled_from(list("東京Приветمρµª²¼\u0301\u0308İ\u2017\u203e\u20a8\ud800"))
raw_text = st.one_of(
    st.text(alphabet=covered_alphabet, max_size=60),
    st.text(alphabet=st.one_of(covered_alphabet, uncovered_alphabet), max_size=30),
    st.text(max_size=20),
)
n_threads_any = st.sampled_from([None, 1, 2, 3])


def encode(texts: list[str]) -> tuple[npt.NDArray[np.uint8], I64]:
    """UTF-8 bytes of texts, concatenated, and the offset of each."""
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    offsets = np.array([0] + [len(e) for e in encoded], dtype=np.int64).cumsum()
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


@small_settings
@given(
    docs=st.lists(st.lists(st.text(min_size=1, max_size=6), max_size=8), max_size=5),
    spaces=st.sampled_from([" ", "  "]),
    n_threads=n_threads_any,
)
def test_hash_token_text_equals_reference(
    docs: list[list[str]], spaces: str, n_threads: int | None
) -> None:
    data, offsets = encode([spaces.join(d) for d in docs])
    with mock.patch.object(_kernel_base, "_MIN_PARALLEL_WORK", 0):
        h, off = sim.hash_token_text(data, offsets, n_threads=n_threads)
    rh, roff = ref.hash_token_text(data, offsets)
    assert h.dtype == np.uint64
    assert (h.tolist(), off.tolist()) == (rh.tolist(), roff.tolist())


def test_hash_token_text_equals_hash_strings_of_tokens() -> None:
    texts = ["Quake hits Tokyo", "", "Привет, мир!", "東京で地震", "naïve café"]
    tokens = [tokenize(t) for t in texts]
    data, offsets = encode([" ".join(t) for t in tokens])
    h, off = sim.hash_token_text(data, offsets)
    assert h.tolist() == hash_strings([w for t in tokens for w in t]).tolist()
    assert np.diff(off).tolist() == [len(t) for t in tokens]


@settings(deadline=None, max_examples=150)
@given(texts=st.lists(raw_text, max_size=5), n_threads=n_threads_any)
def test_hash_raw_text_equals_reference(texts: list[str], n_threads: int | None) -> None:
    data, offsets = encode(texts)
    with mock.patch.object(_kernel_base, "_MIN_PARALLEL_WORK", 0):
        h, off, ok = sim.hash_raw_text(data, offsets, n_threads=n_threads)
    rh, roff, rok = ref.hash_raw_text(data, offsets)
    assert ok.tolist() == rok.tolist()
    assert off.tolist() == roff.tolist()
    assert h.tolist() == rh.tolist()


@settings(deadline=None, max_examples=150)
@given(texts=st.lists(raw_text, max_size=5), n_threads=n_threads_any)
def test_raw_words_are_tokenize_for_the_texts_it_covers(
    texts: list[str], n_threads: int | None
) -> None:
    data, offsets = encode(texts)
    with mock.patch.object(_kernel_base, "_MIN_PARALLEL_WORK", 0):
        words, off, ok = sim.raw_words(data, offsets, n_threads=n_threads)
    assert ok.tolist() == sim.hash_raw_text(data, offsets)[2].tolist()
    for k, text in enumerate(texts):
        got = words[off[k] : off[k + 1]]
        assert got == (tokenize(text) if ok[k] else [])


def test_every_covered_character_tokenizes_as_tokenize_does() -> None:
    # Each character the compiled tokeniser handles, alone, between words, after a
    # capital, and beside every other such character: NFKC, case folding and the
    # word pattern of storyclust.text.tokenize must give the same tokens.
    special = sorted(c for c in ref.COVERED if ord(c) >= 0x80)
    texts = [f"{c}" for c in special] + [f"Ab{c}cD_9{c}É" for c in special]
    texts += [f"x{c}{d}Y" for c in special for d in special]
    data, offsets = encode(texts)
    h, off, ok = sim.hash_raw_text(data, offsets)
    assert ok.all()
    tokens = [tokenize(t) for t in texts]
    assert np.diff(off).tolist() == [len(t) for t in tokens]
    assert h.tolist() == hash_strings([w for t in tokens for w in t]).tolist()


@pytest.mark.parametrize(
    "text",
    ["東京", "Привет", "µ", "ª", "x²", "e\u0301", "İ", "\u2017", "\u20a8", "\ud800", "ſ"],
)
def test_hash_raw_text_hands_other_characters_back(text: str) -> None:
    data, offsets = encode(["plain words", f"a {text} b"])
    _, off, ok = sim.hash_raw_text(data, offsets)
    assert ok.tolist() == [True, False]
    assert np.diff(off).tolist() == [2, 0]


@small_settings
@given(blob=st.binary(max_size=40), cut=st.integers(0, 40))
def test_hash_raw_text_on_any_bytes(blob: bytes, cut: int) -> None:
    # Not UTF-8 (or cut inside a character): handed back, never read past the end.
    data = np.frombuffer(blob, dtype=np.uint8)
    offsets = np.array([0, min(cut, len(blob)), len(blob)], dtype=np.int64)
    h, off, ok = sim.hash_raw_text(data, offsets)
    for d in np.flatnonzero(ok):
        piece = blob[offsets[d] : offsets[d + 1]].decode("utf-8")
        assert h[off[d] : off[d + 1]].tolist() == hash_strings(tokenize(piece)).tolist()


@small_settings
@given(
    texts=st.lists(raw_text, max_size=5),
    k=st.integers(1, 6),
    num_perm=st.sampled_from([1, 3, 16, 128]),
    seed=st.integers(0, 2**32),
    tokenized=st.booleans(),
    n_threads=n_threads_any,
)
def test_text_signatures_equals_reference(
    texts: list[str], k: int, num_perm: int, seed: int, tokenized: bool, n_threads: int | None
) -> None:
    if tokenized:
        texts = [" ".join(tokenize(t)) for t in texts]
    data, offsets = encode(texts)
    with mock.patch.object(_kernel_base, "_MIN_PARALLEL_WORK", 0):
        sig, ok = sim.text_signatures(
            data,
            offsets,
            k=k,
            num_perm=num_perm,
            seed=seed,
            tokenized=tokenized,
            n_threads=n_threads,
        )
    rsig, rok = ref.text_signatures(
        data, offsets, k=k, num_perm=num_perm, seed=seed, tokenized=tokenized
    )
    assert sig.dtype == np.uint32
    assert sig.shape == (len(texts), num_perm)
    assert ok.tolist() == rok.tolist()
    assert sig.tolist() == rsig.tolist()


def test_text_signatures_same_for_any_thread_count() -> None:
    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(300)]
    texts = [" ".join(rng.choice(words, size=rng.integers(0, 400))) for _ in range(300)]
    data, offsets = encode(texts)
    with mock.patch.object(_kernel_base, "_MIN_PARALLEL_WORK", 0):
        runs = [sim.text_signatures(data, offsets, n_threads=t)[0] for t in (1, 2, 3, None)]
    for other in runs[1:]:
        assert np.array_equal(runs[0], other)


@pytest.mark.parametrize(
    ("offsets", "message"),
    [
        ([0, 5, 3], r"offsets must be non-decreasing positions within \[0, 5\]; got \[0, 5, 3\]"),
        ([0, 9], r"offsets must be non-decreasing positions within \[0, 5\]; got \[0, 9\]"),
        ([-1, 2], r"within \[0, 5\]; got \[-1, 2\]"),
        ([], r"offsets must be a 1-d array of n_docs \+ 1 positions; got shape \(0,\)"),
    ],
)
def test_text_kernels_reject_bad_offsets(offsets: list[int], message: str) -> None:
    data = np.frombuffer(b"a b c", dtype=np.uint8)
    for fn in (sim.hash_raw_text, sim.hash_token_text, sim.text_signatures):
        with pytest.raises(ValueError, match=message):
            fn(data, np.array(offsets, dtype=np.int64))


@pytest.mark.parametrize("n_threads", [0, -1, 1.5, True])
def test_kernels_reject_bad_thread_count(n_threads: object) -> None:
    with pytest.raises(ValueError, match=r"n_threads must be a positive int or None; got"):
        sim.minhash_signatures(
            np.zeros(3, dtype=np.uint64),
            np.array([0, 3]),
            n_threads=n_threads,  # type: ignore[arg-type]
        )


# --- shingle_hashes ---------------------------------------------------------------------


@small_settings
@given(docs=documents, k=st.integers(1, 6), start=st.integers(0, 2))
def test_shingle_hashes_equals_reference(docs: list[list[int]], k: int, start: int) -> None:
    tokens, offsets = flatten(docs, start)
    h, off = sim.shingle_hashes(tokens, offsets, k)
    rh, roff = ref.shingle_hashes(tokens, offsets, k)
    assert h.dtype == np.uint64
    assert off.dtype == np.int64
    assert off.tolist() == roff.tolist()
    assert h.tolist() == rh.tolist()


@small_settings
@given(docs=documents, k=st.integers(1, 6))
def test_shingle_counts(docs: list[list[int]], k: int) -> None:
    tokens, offsets = flatten(docs)
    _, off = sim.shingle_hashes(tokens, offsets, k)
    expected = [0 if not d else max(len(d) - k + 1, 1) for d in docs]
    assert np.diff(off).tolist() == expected


def test_shingle_hashes_short_document_is_one_shingle() -> None:
    tokens = np.array([5, 6], dtype=np.uint64)
    h_short, off = sim.shingle_hashes(tokens, np.array([0, 2]), 10)
    h_exact, _ = sim.shingle_hashes(tokens, np.array([0, 2]), 2)
    assert off.tolist() == [0, 1]
    assert h_short.tolist() == h_exact.tolist()


@pytest.mark.parametrize("k", [0, -3])
def test_shingle_hashes_rejects_bad_k(k: int) -> None:
    with pytest.raises(ValueError, match=rf"k must be >= 1; got {k}"):
        sim.shingle_hashes(np.zeros(0, dtype=np.uint64), np.array([0]), k)


# --- minhash_signatures -----------------------------------------------------------------


@small_settings
@given(
    docs=documents,
    num_perm=st.sampled_from([1, 2, 7, 32, 128]),
    seed=st.integers(0, 2**32),
    n_threads=st.sampled_from([None, 1, 2, 3]),
)
def test_minhash_signatures_equals_reference(
    docs: list[list[int]], num_perm: int, seed: int, n_threads: int | None
) -> None:
    shingles, offsets = flatten(docs)
    # No minimum work: even tiny inputs are split over threads, as huge ones are.
    with mock.patch.object(_kernel_base, "_MIN_PARALLEL_WORK", 0):
        got = sim.minhash_signatures(
            shingles, offsets, num_perm=num_perm, seed=seed, n_threads=n_threads
        )
    want = ref.minhash_signatures(shingles, offsets, num_perm=num_perm, seed=seed)
    assert got.dtype == np.uint32
    assert got.shape == (len(docs), num_perm)
    assert got.tolist() == want.tolist()
    empty_rows = [i for i, d in enumerate(docs) if not d]
    assert (got[empty_rows] == sim.EMPTY_VALUE).all()


@small_settings
@given(texts=st.lists(any_text, max_size=5), k=st.integers(1, 4), seed=st.integers(0, 99))
def test_pipeline_on_unicode_text_equals_reference(texts: list[str], k: int, seed: int) -> None:
    tokens = [w for t in texts for w in tokenize(t)]
    assert hash_strings(tokens).tolist() == ref.hash_strings(tokens).tolist()
    token_hashes, offsets = tokens_to_hashes(texts)
    sh, sh_off = sim.shingle_hashes(token_hashes, offsets, k)
    rsh, rsh_off = ref.shingle_hashes(token_hashes, offsets, k)
    assert sh.tolist() == rsh.tolist()
    assert sh_off.tolist() == rsh_off.tolist()
    got = sim.minhash_signatures(sh, sh_off, num_perm=16, seed=seed)
    want = ref.minhash_signatures(sh, sh_off, num_perm=16, seed=seed)
    assert got.tolist() == want.tolist()


@small_settings
@given(docs=documents, data=st.data(), seed=st.integers(0, 99))
def test_signatures_do_not_depend_on_document_order(
    docs: list[list[int]], data: st.DataObject, seed: int
) -> None:
    order = data.draw(st.permutations(range(len(docs))))
    shingles, offsets = flatten(docs)
    p_shingles, p_offsets = flatten([docs[i] for i in order])
    sig = sim.minhash_signatures(shingles, offsets, num_perm=16, seed=seed)
    p_sig = sim.minhash_signatures(p_shingles, p_offsets, num_perm=16, seed=seed)
    assert p_sig.tolist() == sig[list(order)].tolist()


def test_minhash_params_odd_and_seeded() -> None:
    a, b = sim.minhash_params(64, 7)
    assert (a & np.uint64(1) == 1).all()
    assert a.tolist() == sim.minhash_params(64, 7)[0].tolist()
    assert a.tolist() != sim.minhash_params(64, 8)[0].tolist()
    ra, rb = ref.minhash_params(64, 7)
    assert (a.tolist(), b.tolist()) == (ra.tolist(), rb.tolist())


def test_minhash_signatures_rejects_bad_num_perm() -> None:
    with pytest.raises(ValueError, match=r"num_perm must be >= 1; got 0"):
        sim.minhash_signatures(np.zeros(0, dtype=np.uint64), np.array([0]), num_perm=0)


def _shingle_set(tokens: list[str], k: int) -> set[int]:
    h, _ = sim.shingle_hashes(hash_strings(tokens), np.array([0, len(tokens)]), k)
    return set(h.tolist())


@pytest.mark.parametrize("kept", [0.0, 0.3, 0.6, 0.9, 1.0])
def test_minhash_estimate_close_to_exact_jaccard(kept: float) -> None:
    rng = np.random.default_rng(20240601)
    vocab = [f"w{i}" for i in range(500)]
    base = [vocab[i] for i in rng.integers(0, len(vocab), size=300)]
    # The second text keeps a share of the first and replaces the rest.
    other = [w if rng.random() < kept else vocab[rng.integers(0, len(vocab))] for w in base]
    k = 3
    a, b = _shingle_set(base, k), _shingle_set(other, k)
    exact = len(a & b) / len(a | b)
    texts = [base, other]
    token_hashes = hash_strings([w for t in texts for w in t])
    offsets = np.array([0, len(base), len(base) + len(other)], dtype=np.int64)
    sh, sh_off = sim.shingle_hashes(token_hashes, offsets, k)
    sig = sim.minhash_signatures(sh, sh_off, num_perm=512, seed=3)
    est = sim.jaccard_estimates(sig, np.array([[0, 1]]))[0]
    assert abs(est - exact) < 0.1


# --- LSH: band_keys, band_candidates, lsh_params ----------------------------------------


@small_settings
@given(sig=signature_matrices(), data=st.data())
def test_band_keys_equals_reference(sig: U32, data: st.DataObject) -> None:
    p = sig.shape[1]
    rows = data.draw(st.integers(1, p))
    bands = data.draw(st.integers(0, p // rows))
    got = sim.band_keys(sig, bands, rows)
    assert got.dtype == np.uint64
    assert got.shape == (sig.shape[0], bands)
    assert got.tolist() == ref.band_keys(sig, bands, rows).tolist()


@small_settings
@given(sig=signature_matrices(max_perm=6))
def test_band_keys_equal_when_band_values_equal(sig: U32) -> None:
    keys = sim.band_keys(sig, sig.shape[1], 1)
    for i in range(sig.shape[0]):
        for j in range(sig.shape[0]):
            same = sig[i] == sig[j]
            assert ((keys[i] == keys[j]) == same).all()


def test_band_keys_rejects_too_many_rows() -> None:
    sig = np.zeros((2, 8), dtype=np.uint32)
    with pytest.raises(ValueError, match=r"bands \* rows must be <= num_perm \(8\); got 3 \* 3"):
        sim.band_keys(sig, 3, 3)


@st.composite
def key_matrices(draw: st.DrawFn) -> U64:
    """Band keys from a tiny alphabet so that buckets are shared and sometimes big."""
    n = draw(st.integers(0, 12))
    bands = draw(st.integers(0, 4))
    key = st.one_of(st.sampled_from([0, 1, 2]), st.integers(0, MAX_U64))
    cells = draw(st.lists(key, min_size=n * bands, max_size=n * bands))
    return np.array(cells, dtype=np.uint64).reshape(n, bands)


@small_settings
@given(
    keys=key_matrices(),
    max_bucket_size=st.sampled_from([0, 1, 2, 3, 5, 200]),
    data=st.data(),
)
def test_band_candidates_equals_reference(
    keys: U64, max_bucket_size: int, data: st.DataObject
) -> None:
    n = keys.shape[0]
    valid = data.draw(st.none() | st.lists(st.booleans(), min_size=n, max_size=n).map(np.array))
    if valid is not None:
        valid = valid.astype(bool).reshape(n)
    got = sim.band_candidates(keys, max_bucket_size=max_bucket_size, valid=valid)
    want = ref.band_candidates(keys, max_bucket_size=max_bucket_size, valid=valid)
    assert_pairs_sorted_unique(got)
    assert got.tolist() == want.tolist()
    if valid is not None:
        assert valid[got.ravel()].all()


def test_band_candidates_oversize_bucket_gives_chain() -> None:
    keys = np.array([[7], [7], [1], [7], [7]], dtype=np.uint64)
    got = sim.band_candidates(keys, max_bucket_size=3)
    assert got.tolist() == [[0, 1], [1, 3], [3, 4]]
    assert sim.band_candidates(keys, max_bucket_size=4).tolist() == [
        [0, 1],
        [0, 3],
        [0, 4],
        [1, 3],
        [1, 4],
        [3, 4],
    ]


@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.8, 0.95, 1.0])
@pytest.mark.parametrize("num_perm", [1, 8, 32])
def test_lsh_params_equals_reference(threshold: float, num_perm: int) -> None:
    got = sim.lsh_params(threshold, num_perm)
    assert got == ref.lsh_params(threshold, num_perm)
    bands, rows = got
    assert bands >= 1
    assert rows >= 1
    assert bands * rows <= num_perm


def test_lsh_params_weights_equal_reference() -> None:
    for fp, fn in [(0.9, 0.1), (0.1, 0.9)]:
        got = sim.lsh_params(0.6, 24, false_positive_weight=fp, false_negative_weight=fn)
        want = ref.lsh_params(0.6, 24, false_positive_weight=fp, false_negative_weight=fn)
        assert got == want


@pytest.mark.parametrize("threshold", [0.5, 0.8, 0.9])
@pytest.mark.parametrize("min_recall", [0.9, 0.99, 0.999])
def test_lsh_params_min_recall(threshold: float, min_recall: float) -> None:
    got = sim.lsh_params(threshold, 64, min_recall=min_recall)
    assert got == ref.lsh_params(threshold, 64, min_recall=min_recall)
    bands, rows = got
    assert bands * rows <= 64
    assert 1 - (1 - threshold**rows) ** bands >= min_recall


@pytest.mark.parametrize("min_recall", [0.0, 1.0, 1.5])
def test_lsh_params_rejects_bad_min_recall(min_recall: float) -> None:
    with pytest.raises(ValueError, match=r"min_recall must be in \(0, 1\); got"):
        sim.lsh_params(0.8, 16, min_recall=min_recall)


def test_lsh_params_unreachable_min_recall() -> None:
    with pytest.raises(ValueError, match=r"min_recall 0.999 cannot be reached at threshold 0.1"):
        sim.lsh_params(0.1, 4, min_recall=0.999)


def test_lsh_params_known_value() -> None:
    # Same as datasketch.MinHashLSH(threshold=0.8, num_perm=128).
    assert sim.lsh_params(0.8, 128) == (9, 13)


@pytest.mark.parametrize("threshold", [0.0, -0.1, 1.5])
def test_lsh_params_rejects_bad_threshold(threshold: float) -> None:
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\]; got"):
        sim.lsh_params(threshold, 16)


@pytest.mark.parametrize("num_perm", [0, -4])
def test_lsh_params_rejects_bad_num_perm(num_perm: int) -> None:
    with pytest.raises(ValueError, match=rf"num_perm must be >= 1; got {num_perm}"):
        sim.lsh_params(0.5, num_perm)


# --- jaccard_estimates ------------------------------------------------------------------


@small_settings
@given(sig=signature_matrices(), data=st.data(), chunk=st.sampled_from([1, 2, 3, 1 << 14]))
def test_jaccard_estimates_equals_reference(sig: U32, data: st.DataObject, chunk: int) -> None:
    pairs = data.draw(pair_arrays(sig.shape[0]))
    got = sim.jaccard_estimates(sig, pairs, chunk=chunk)
    assert got.dtype == np.float64
    assert got.shape == (len(pairs),)
    assert got.tolist() == ref.jaccard_estimates(sig, pairs).tolist()


@small_settings
@given(sig=signature_matrices(), data=st.data())
def test_jaccard_estimates_symmetric_in_unit_interval(sig: U32, data: st.DataObject) -> None:
    pairs = data.draw(pair_arrays(sig.shape[0]))
    est = sim.jaccard_estimates(sig, pairs)
    assert ((est >= 0.0) & (est <= 1.0)).all()
    assert est.tolist() == sim.jaccard_estimates(sig, pairs[:, ::-1]).tolist()


def test_jaccard_estimate_of_empty_document_is_zero() -> None:
    sig = np.array([[sim.EMPTY_VALUE] * 4, [sim.EMPTY_VALUE] * 4, [1, 2, 3, 4]], dtype=np.uint32)
    assert sim.jaccard_estimates(sig, np.array([[0, 1], [0, 2], [2, 2]])).tolist() == [
        0.0,
        0.0,
        1.0,
    ]


# --- cosine_pairs, cosine_neighbors -----------------------------------------------------


@small_settings
@given(x=unit_rows(), data=st.data(), chunk=st.sampled_from([1, 2, 1 << 16]))
def test_cosine_pairs_equals_reference(x: sp.csr_matrix, data: st.DataObject, chunk: int) -> None:
    pairs = data.draw(pair_arrays(x.shape[0]))
    got = sim.cosine_pairs(x, pairs, chunk=chunk)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, ref.cosine_pairs(x, pairs), rtol=0, atol=1e-9)
    assert ((got >= 0.0) & (got <= 1.0)).all()
    np.testing.assert_allclose(got, sim.cosine_pairs(x, pairs[:, ::-1]), rtol=0, atol=1e-12)


@small_settings
@given(
    x=unit_rows(),
    threshold=st.one_of(st.sampled_from([1e-9, 0.5, 0.8, 1.0]), st.floats(0.01, 1.0)),
    max_neighbors=st.sampled_from([0, 1, 2, 3, 50]),
    block_rows=st.sampled_from([1, 2, 3, 2048]),
)
def test_cosine_neighbors_equals_reference(
    x: sp.csr_matrix, threshold: float, max_neighbors: int, block_rows: int
) -> None:
    pairs, sims = sim.cosine_neighbors(
        x, threshold=threshold, max_neighbors=max_neighbors, block_rows=block_rows
    )
    r_pairs, r_sims = ref.cosine_neighbors(x, threshold=threshold, max_neighbors=max_neighbors)
    assert_pairs_sorted_unique(pairs)
    assert pairs.tolist() == r_pairs.tolist()
    np.testing.assert_allclose(sims, r_sims, rtol=0, atol=1e-9)
    assert ((sims >= 0.0) & (sims <= 1.0)).all()
    if len(pairs):
        # A near-unit threshold may keep pairs whose clipped cosine rounds to it.
        assert (sims >= threshold - 1e-9).all()


def test_cosine_neighbors_ties_go_to_lower_index() -> None:
    # Rows 1, 2 and 3 are equally close to row 0; each keeps one neighbour.
    x = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]))
    pairs, sims = sim.cosine_neighbors(x, threshold=0.5, max_neighbors=1)
    # 0 -> 1, 1 -> 0, 2 -> 0, 3 -> 0
    assert pairs.tolist() == [[0, 1], [0, 2], [0, 3]]
    assert sims.tolist() == [1.0, 1.0, 1.0]


# Rows sharing no feature never meet in the sparse product, so a threshold of 0 would
# silently miss their pairs; the kernel refuses it instead.
@pytest.mark.parametrize("threshold", [0.0, -0.5, 1.5])
def test_cosine_neighbors_rejects_bad_threshold(threshold: float) -> None:
    x = sp.csr_matrix(np.eye(3))
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\]; got"):
        sim.cosine_neighbors(x, threshold=threshold)


# --- cosine_candidates: the bounded neighbour search ------------------------------------


@small_settings
@given(
    x=unit_rows(),
    data=st.data(),
    threshold=st.one_of(st.sampled_from([1e-9, 0.1, 0.5, 1.0]), st.floats(0.01, 1.0)),
    max_terms=st.sampled_from([1, 2, 3, 50]),
    max_postings=st.sampled_from([2, 3, 5000]),
    min_partial=st.sampled_from([None, 0.0, 0.2]),
    max_neighbors=st.sampled_from([0, 1, 2, 50]),
    horizon=st.sampled_from([0.0, 1.5, np.inf]),
    max_nearby=st.sampled_from([None, 1, 2]),
    block_rows=st.sampled_from([1, 3, 2048]),
    n_threads=st.sampled_from([1, 2]),
)
def test_cosine_candidates_equals_reference(
    x: sp.csr_matrix,
    data: st.DataObject,
    threshold: float,
    max_terms: int,
    max_postings: int,
    min_partial: float | None,
    max_neighbors: int,
    horizon: float,
    max_nearby: int | None,
    block_rows: int,
    n_threads: int,
) -> None:
    day = st.one_of(st.just(np.nan), st.sampled_from([0.0, 1.0, 2.0, 5.0]))
    n, n_cols = x.shape
    days = np.array(data.draw(st.lists(day, min_size=n, max_size=n)), dtype=float)
    # A part of the rows searched, and hubs named by the caller (as a time block of
    # the Ray path searches its own rows with the corpus's hubs).
    search = data.draw(st.none() | st.lists(st.booleans(), min_size=n, max_size=n))
    hubs = data.draw(st.none() | st.lists(st.integers(0, n_cols - 1), max_size=3))
    kw = dict(
        threshold=threshold,
        max_terms=max_terms,
        max_postings=max_postings,
        min_partial=min_partial,
        max_neighbors=max_neighbors,
        days=days,
        horizon=horizon,
        max_nearby=max_nearby,
        search=search,
        hubs=hubs,
    )
    pairs, sims, n_hubs = sim.cosine_candidates(x, block_rows=block_rows, n_threads=n_threads, **kw)
    r_pairs, r_sims, r_hubs = ref.cosine_candidates(x, **kw)
    assert_pairs_sorted_unique(pairs)
    assert pairs.tolist() == r_pairs.tolist()
    np.testing.assert_allclose(sims, r_sims, rtol=0, atol=1e-12)
    assert n_hubs == r_hubs
    if search is not None:  # every pair has a searched row
        assert np.asarray(search, dtype=bool)[pairs].any(axis=1).all()
    assert (sims >= threshold).all()
    # Never a pair the exact search would not give (its neighbours capped at n: all of them).
    exact, _ = sim.cosine_neighbors(x, threshold=threshold, max_neighbors=max(1, x.shape[0]))
    assert set(map(tuple, pairs.tolist())) <= set(map(tuple, exact.tolist()))


def test_cosine_candidates_with_whole_prefixes_is_the_exact_search() -> None:
    rng = np.random.default_rng(3)
    dense = rng.random((40, 12)) * (rng.random((40, 12)) < 0.4)
    x = sp.csr_matrix(dense / np.maximum(np.linalg.norm(dense, axis=1, keepdims=True), 1e-300))
    pairs, sims, hubs = sim.cosine_candidates(
        x, threshold=0.2, max_terms=12, min_partial=0.2, max_neighbors=40
    )
    e_pairs, e_sims = sim.cosine_neighbors(x, threshold=0.2, max_neighbors=40)
    assert hubs == 0 and pairs.tolist() == e_pairs.tolist()
    np.testing.assert_allclose(sims, e_sims, rtol=0, atol=1e-12)


def test_cosine_candidates_hub_terms_propose_nothing_and_time_bounds_pairs() -> None:
    # Every row shares feature 0 (a hub once capped); rows 0 and 1 also share feature 1.
    x = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1], [1, 0, 1]], dtype=float))
    x = sp.csr_matrix(x.multiply(1 / np.sqrt(x.multiply(x).sum(axis=1))))
    p, _, hubs = sim.cosine_candidates(x, threshold=0.4, max_postings=3)
    assert hubs == 1 and p.tolist() == [[0, 1], [2, 3]]
    days = np.array([0.0, 10.0, 0.0, np.nan])
    p, _, _ = sim.cosine_candidates(x, threshold=0.4, max_postings=3, days=days, horizon=2.0)
    assert p.tolist() == [[2, 3]]  # 0 and 1 are 10 days apart; 3 has no date


def test_cosine_candidates_max_nearby_meets_the_nearest_in_time() -> None:
    # Six dated rows and one undated share one feature; rows given out of time order.
    x = sp.csr_matrix(np.ones((7, 1)))
    days = np.array([5.0, 0.0, 4.0, 1.0, 3.0, 2.0, np.nan])
    p, _, _ = sim.cosine_candidates(x, threshold=0.5, max_terms=1, days=days, max_nearby=1)
    by_time = [1, 3, 5, 4, 2, 0]  # rows in time order: each meets the next, and row 6 all
    chain = {tuple(sorted(ab)) for ab in itertools.pairwise(by_time)}
    assert set(map(tuple, p.tolist())) == chain | {(r, 6) for r in range(6)}
    # Unbounded, every pair; within a horizon of 1 day, only the neighbours in time.
    p, _, _ = sim.cosine_candidates(x, threshold=0.5, max_terms=1, days=days)
    assert len(p) == 21
    p, _, _ = sim.cosine_candidates(x, threshold=0.5, max_terms=1, days=days, horizon=1.0)
    assert set(map(tuple, p.tolist())) == chain | {(r, 6) for r in range(6)}
    with pytest.raises(ValueError, match="max_nearby must be an int >= 1 or None; got 0"):
        sim.cosine_candidates(x, threshold=0.5, max_nearby=0)


def test_prefix_matrix_equals_reference() -> None:
    rng = np.random.default_rng(5)
    x = sp.csr_matrix(np.round(rng.random((20, 9)) * (rng.random((20, 9)) < 0.6), 1))
    for k in (1, 2, 4, 9):
        assert (sim.prefix_matrix(x, k) != ref.prefix_matrix(x, k)).nnz == 0
    with pytest.raises(ValueError, match="max_terms must be an int >= 1; got 0"):
        sim.prefix_matrix(x, 0)


# --- term_counts, names_raw_text --------------------------------------------------------


@small_settings
@given(
    docs=st.lists(st.tuples(doc_tokens, doc_tokens), max_size=6),
    title_weight=st.integers(0, 3),
    lead_words=st.integers(0, 4),
    lead_weight=st.integers(0, 2),
    n_threads=st.sampled_from([1, 2]),
)
def test_term_counts_equals_reference(
    docs: list[tuple[list[int], list[int]]],
    title_weight: int,
    lead_words: int,
    lead_weight: int,
    n_threads: int,
) -> None:
    tokens, offsets = flatten([part for d in docs for part in d])
    stop = np.array([0, 2], dtype=np.uint64)
    kw = dict(title_weight=title_weight, lead_words=lead_words, lead_weight=lead_weight)
    got = sim.term_counts(tokens, offsets, stop, n_threads=n_threads, **kw)
    want = ref.term_counts(tokens, offsets, stop, **kw)
    for g, w in zip(got, want):
        assert g.tolist() == w.tolist()


def test_term_counts_rejects_bad_layout() -> None:
    with pytest.raises(ValueError, match="2 \\* n_articles \\+ 1"):
        sim.term_counts(
            np.zeros(2, dtype=np.uint64), np.array([0, 2]), np.zeros(0, dtype=np.uint64)
        )
    with pytest.raises(ValueError, match="lead_words must be an int >= 0; got -1"):
        sim.term_counts(
            np.zeros(0, dtype=np.uint64), np.array([0]), np.zeros(0, dtype=np.uint64), lead_words=-1
        )


# Capitalised words, sentence ends, possessives, quotes, figures, Latin-1 letters, and
# characters the compiled scanner leaves to Python.
names_alphabet = st.sampled_from(
    [
        *list("Aa Bb Ss It The . ! ? : ; , - ' \n\t"),
        "’",
        "“",
        "”",
        "‘",
        "—",
        "…",
        "\xa0",
        *list("0123456789"),
        *list("ÉéÜüßÀ×"),
        "Straße",
        "Über",
        "It’s",
        "U.S.",
        "1,200",
        "3.5",
        *list("Ωµ²東"),
    ]
)
names_text = st.lists(names_alphabet, max_size=30).map("".join)


@small_settings
@given(texts=st.lists(names_text, max_size=5), n_threads=st.sampled_from([1, 2]))
def test_names_raw_text_equals_names_and_numbers(texts: list[str], n_threads: int) -> None:
    enc = [t.encode() for t in texts]
    data = np.frombuffer(b"".join(enc), dtype=np.uint8)
    offsets = np.array([0] + [len(e) for e in enc], dtype=np.int64).cumsum()
    stop = hash_strings(sorted(STOP_WORDS))
    h, off, n_names, ok = sim.names_raw_text(data, offsets, stop, n_threads=n_threads)
    r_h, r_off, r_names, _ = ref.names_raw_text(data, offsets, stop)
    for d, text in enumerate(texts):
        # Outside the covered characters the caller runs names_and_numbers itself.
        assert ok[d] == all(c.isascii() or c in "\u00a0’“”‘—–…" or ("À" <= c <= "ÿ") for c in text)
        if ok[d]:
            assert h[off[d] : off[d + 1]].tolist() == r_h[r_off[d] : r_off[d + 1]].tolist()
            assert n_names[d] == r_names[d]
        else:
            assert off[d + 1] == off[d] and n_names[d] == 0


# --- line_hashes, strip_line_hashes: boilerplate lines ----------------------------------

line_alphabet = st.sampled_from(
    [
        *"Ab z.,",
        " ",
        "\t",
        "\n",
        "\r",
        "\r\n",
        "\x0b",
        "\x0c",
        "\x1c",
        "\x1f",
        "\x85",
        "\u2028",
        "\xa0",
        "\u2003",
        "’",
        "“",
        "—",
        "…",
        "É",
        "ß",
        "×",
        "ÿ",
        "Related",
        "ARTICLES",
        "½",
        "ﬁ",
        "Ω",
        "東",
    ]
)
line_text = st.lists(line_alphabet, max_size=25).map("".join)


@small_settings
@given(texts=st.lists(line_text, max_size=5), n_threads=st.sampled_from([1, 2]), data=st.data())
def test_line_hashes_and_stripping_equal_reference(
    texts: list[str], n_threads: int, data: st.DataObject
) -> None:
    enc = [t.encode() for t in texts]
    raw = np.frombuffer(b"".join(enc), dtype=np.uint8)
    offsets = np.array([0] + [len(e) for e in enc], dtype=np.int64).cumsum()
    h, words, off, ok = sim.line_hashes(raw, offsets, n_threads=n_threads)
    r_h, r_words, r_off, _ = ref.line_hashes(raw, offsets)
    # Some of the lines that occur become boilerplate.
    table = np.array(
        data.draw(st.lists(st.sampled_from(r_h.tolist() or [0]), max_size=4)), dtype=np.uint64
    )
    out, out_off, s_ok = sim.strip_line_hashes(raw, offsets, table, n_threads=n_threads)
    expected = ref.strip_line_hashes(raw, offsets, table)
    for d, text in enumerate(texts):
        covered = all(c not in "½ﬁΩ東" for c in text)
        assert ok[d] == covered and s_ok[d] == covered
        if covered:
            assert h[off[d] : off[d + 1]].tolist() == r_h[r_off[d] : r_off[d + 1]].tolist()
            assert words[off[d] : off[d + 1]].tolist() == r_words[r_off[d] : r_off[d + 1]].tolist()
            assert out[out_off[d] : out_off[d + 1]].tobytes().decode() == expected[d]


@pytest.mark.parametrize("n_threads", [1, 2])
def test_one_pass_scanners_outgrow_their_first_guess_of_the_output(n_threads: int) -> None:
    """Texts denser in tokens, names and lines than the scanners' first allocation
    (a text given back to Python in the middle, its lines half written) match the twins."""
    texts = [
        "a " * 400,  # 400 tokens in 800 bytes
        "Ab Cd " * 150 + "12 34 " * 100,  # 300 names and 200 figures in 1,500 bytes
        "x\n" * 300 + "東",  # 300 lines, then a character the scanners leave to Python
        "y\n" * 300,
        "Plain Words here.",
    ]
    data, offsets = encode(texts)
    h, off, ok = sim.hash_raw_text(data, offsets, n_threads=n_threads)
    rh, roff, rok = ref.hash_raw_text(data, offsets)
    assert (h.tolist(), off.tolist(), ok.tolist()) == (rh.tolist(), roff.tolist(), rok.tolist())
    assert np.diff(off)[:2].tolist() == [400, 500]
    stop = hash_strings(sorted(STOP_WORDS))
    h, off, n_names, ok = sim.names_raw_text(data, offsets, stop, n_threads=n_threads)
    r_h, r_off, r_names, _ = ref.names_raw_text(data, offsets, stop)
    for d in np.flatnonzero(ok).tolist():
        assert h[off[d] : off[d + 1]].tolist() == r_h[r_off[d] : r_off[d + 1]].tolist()
        assert n_names[d] == r_names[d]
    assert ok.tolist() == [True, True, False, True, True] and n_names[1] == 300
    h, words, off, ok = sim.line_hashes(data, offsets, n_threads=n_threads)
    r_h, r_words, r_off, _ = ref.line_hashes(data, offsets)
    assert ok.tolist() == [True, True, False, True, True]
    assert np.diff(off).tolist() == [1, 1, 0, 300, 1]
    for d in (0, 1, 3, 4):
        assert h[off[d] : off[d + 1]].tolist() == r_h[r_off[d] : r_off[d + 1]].tolist()
        assert words[off[d] : off[d + 1]].tolist() == r_words[r_off[d] : r_off[d + 1]].tolist()


# --- average_linkage: scipy's dendrogram, in place ---------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_average_linkage_is_scipys_bit_for_bit(seed: int) -> None:
    from scipy.cluster.hierarchy import linkage

    rng = np.random.default_rng(seed)
    m = int(rng.integers(2, 70))
    y = rng.random(m * (m - 1) // 2)
    if seed % 2:
        y = np.round(y, 1)  # many ties: the chain's tie-breaks must be scipy's too
    if seed % 3 == 0:
        y = np.minimum(2 * y, 1.0)  # a block of equal largest distances (missing links)
    want = linkage(y.copy(), method="average")
    work = y.copy()
    got = sim.average_linkage(work, m)
    np.testing.assert_array_equal(got, want)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_flat_clusters_are_fclusters_numbering_included(data: st.DataObject) -> None:
    from scipy.cluster.hierarchy import fcluster, linkage

    m = data.draw(st.integers(2, 30))
    # Few distinct distances: ties between merges, and cuts exactly at a merge.
    y = np.array(
        data.draw(
            st.lists(
                st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 1.0]),
                min_size=m * (m - 1) // 2,
                max_size=m * (m - 1) // 2,
            )
        )
    )
    method = data.draw(st.sampled_from(["average", "single", "complete"]))
    z = sim.average_linkage(y.copy(), m) if method == "average" else linkage(y, method=method)
    height = data.draw(st.sampled_from([*z[:, 2].tolist(), 0.0, 0.3, 0.75 + 1e-12, 1.0]))
    want = fcluster(z, t=height, criterion="distance")
    assert sim.flat_clusters(z, m, height).tolist() == want.tolist()


def test_flat_clusters_checks_its_input() -> None:
    assert sim.flat_clusters(np.zeros((0, 4)), 1, 0.5).tolist() == [1]
    with pytest.raises(ValueError, match="shape \\(2, 4\\)"):
        sim.flat_clusters(np.zeros((1, 4)), 3, 0.5)


def test_average_linkage_checks_its_input() -> None:
    assert sim.average_linkage(np.zeros(0), 1).shape == (0, 4)
    with pytest.raises(ValueError, match="n \\* \\(n - 1\\) / 2 = 3 values; got 2"):
        sim.average_linkage(np.zeros(2), 3)
    with pytest.raises(ValueError, match="contiguous 1-d float64"):
        sim.average_linkage(np.zeros(3, dtype=np.float32), 3)
    # An infinite or NaN distance made the chain read out of bounds: a broken dendrogram.
    for bad in (np.inf, np.nan):
        with pytest.raises(ValueError, match="only finite values"):
            sim.average_linkage(np.array([bad, 1.0, 2.0]), 3)


def test_nan_weights_are_refused_not_ranked_into_unset_memory() -> None:
    with pytest.raises(ValueError, match="weight must not hold NaN"):
        sim.top_per_row(np.array([0, 3]), np.array([np.nan, 2.0, 3.0]), 2)
    with pytest.raises(ValueError, match="x must not hold NaN"):
        sim.prefix_matrix(sp.csr_matrix(np.array([[np.nan, 0.2, 0.3, 0.1]])), 2)
    # Infinities rank (their sum is NaN, but no weight is).
    assert sim.top_per_row(np.array([0, 3]), np.array([np.inf, -np.inf, 3.0]), 2).tolist() == [0, 2]


def test_kernel_arguments_are_checked_by_name() -> None:
    """rows=0 made every document a candidate of every other; a short `valid` dropped
    documents silently; k=0 and max_terms=0 said 'kth out of bounds'."""
    sig = storyclust.signatures(["a b c d e f", "x y z w v u", "a b c d e g"])
    with pytest.raises(ValueError, match="rows must be an integer >= 1; got 0"):
        sim.band_keys(sig, 4, 0)
    with pytest.raises(ValueError, match=r"signatures must be 2-D"):
        sim.band_keys(sig[0], 4, 2)
    keys = sim.band_keys(sig, 16, 6)
    with pytest.raises(ValueError, match=r"valid must hold one flag a document, shape \(3,\)"):
        sim.band_candidates(keys, valid=np.ones(2, dtype=bool))
    with pytest.raises(ValueError, match="k must be an integer >= 1; got 0"):
        sim.top_per_row(np.array([0, 2]), np.array([1.0, 2.0]), 0)
    with pytest.raises(ValueError, match="max_terms must be an integer >= 1; got 0"):
        sim.cosine_candidates(sp.csr_matrix(np.eye(3)), threshold=0.5, max_terms=0)
