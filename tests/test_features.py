"""Features: boilerplate learning, names and figures, the TF-IDF and signature matrices."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

import storyclust
from storyclust import Article, find_boilerplate, names_and_numbers
from storyclust import features as features_module
from storyclust.features import line_hash, strip_line_hashes_py, strip_lines, term_strings
from storyclust.settings import Settings
from storyclust.stages import corpus_features
from storyclust.text import STOP_WORDS, hash_strings, tokenize

from .corpora import BOILER, CORPUS, WIRE

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "data"


def _arts(records: list[dict[str, object]]) -> storyclust.Articles:
    return storyclust.to_articles(records)


def test_boilerplate_is_learned_from_the_corpus() -> None:
    found = find_boilerplate(_arts(CORPUS))
    assert "comments" in found
    assert "sign up for our newsletter to get the latest headlines every morning." in found
    # on its own line in only two articles of two outlets: not enough evidence
    assert "related articles" not in found
    assert not any("lagarde" in line for line in found)


def test_wire_paragraphs_reprinted_by_several_outlets_are_not_boilerplate() -> None:
    paragraphs = [
        WIRE,
        "Lagarde said the recovery was fragile.",
        "Markets rose after the decision.",
    ]
    records = [
        {"id": str(k), "text": "\n".join(paragraphs), "source": f"outlet{k}"} for k in range(5)
    ]
    found = find_boilerplate(_arts(records))
    assert WIRE.casefold() not in found
    # the short lines are generic only if they recur across many articles: here they do (5 >= 3)
    assert "markets rose after the decision." in found


def test_an_outlets_own_footer_is_boilerplate() -> None:
    records = [
        {
            "id": "1",
            "text": "Story one text.\nCopyright Daily Planet, all rights reserved forever and ever more.",
            "source": "Daily Planet",
        },
        {
            "id": "2",
            "text": "Another story.\nCopyright Daily Planet, all rights reserved forever and ever more.",
            "source": "Daily Planet",
        },
        {"id": "3", "text": "A third story.", "source": "Other"},
    ]
    found = find_boilerplate(_arts(records))
    assert "copyright daily planet, all rights reserved forever and ever more." in found
    assert strip_lines(records[0]["text"], found) == "Story one text."  # type: ignore[arg-type]


def test_stripping_makes_reprints_near_duplicates() -> None:
    on = storyclust.cluster(CORPUS, progress=False).explain("wire-ecb", "courier-ecb")["link"]
    off = storyclust.cluster(CORPUS, progress=False, strip_boilerplate=False).explain(
        "wire-ecb", "courier-ecb"
    )
    assert on["near_duplicate"] and on["jaccard"] > off["link"]["jaccard"]
    assert BOILER  # the corpus really carries boilerplate


def test_names_and_numbers() -> None:
    text = "TOKYO (Reuters) - Prime Minister Fumio Kishida will dissolve parliament. The vote is on October 31."
    names = names_and_numbers(text, title="Kishida calls snap election")
    assert {"fumio", "kishida", "october", "31", "reuters"} <= set(names)
    assert "the" not in names and "tokyo" not in names  # sentence-initial only once, not repeated
    assert names_and_numbers("東京で地震 2024") == ["2024"]
    # thousands commas dropped, decimals kept, one-digit figures ignored
    assert names_and_numbers("figures: 1,200 and 3.5 and 7") == ["1200", "3.5"]


def test_corpus_features_shapes() -> None:
    arts = _arts(CORPUS)
    f = corpus_features(list(arts), Settings())
    n = len(arts)
    assert f.tfidf.shape[0] == n and f.names.shape[0] == n
    assert f.signatures.shape == (n, 128) and f.signatures.dtype == np.uint32
    norms = np.sqrt(np.asarray(f.tfidf.multiply(f.tfidf).sum(axis=1)).ravel())
    assert np.allclose(norms, 1.0)
    assert f.has_shingles.all()
    assert np.isfinite(f.days).all()
    assert line_hash("comments") in f.boilerplate


def _python_documents(
    arts: list[Article], s: Settings, boiler: frozenset[int]
) -> tuple[list[list[str]], list[list[str]]]:
    """TF-IDF documents and names of each article, made the slow way with Python strings."""
    docs, names = [], []
    for a in arts:
        text = strip_line_hashes_py(a.text, boiler)
        t, x = tokenize(a.title), tokenize(text)
        body = [w for w in x if w not in STOP_WORDS]
        docs.append(
            [w for w in t if w not in STOP_WORDS] * s.title_weight
            + body[: s.lead_words] * s.lead_weight
            + body
        )
        names.append(names_and_numbers(text, title=a.title))
    return docs, names


def _sklearn_tfidf(docs: list[list[str]]) -> tuple[np.ndarray, list[str]]:
    vec = TfidfVectorizer(analyzer=lambda d: d, sublinear_tf=True)
    return vec.fit_transform(docs).toarray(), list(vec.get_feature_names_out())


@pytest.mark.parametrize("which", ["ecb", "mixed"])
def test_hashed_features_equal_scikit_learn_over_python_tokens(which: str) -> None:
    """The compiled, hashed path gives scikit-learn's TF-IDF of the Python tokens, column for column."""
    if which == "ecb":
        recs = [json.loads(line) for line in (EXAMPLES / "ecbplus_sample.jsonl").open()][:120]
    else:  # texts outside the compiled scanners (CJK, Greek, emoji) go the Python way
        recs = [dict(r) for r in CORPUS] + [
            {
                "id": "x1",
                "title": "Σεισμός στην Αθήνα",
                "text": "Ο σεισμός 5,2 Ρίχτερ χτύπησε την Αθήνα. Η Αθήνα μετρά ζημιές 🙁",
            },
            {
                "id": "x2",
                "title": "東京で地震 2024",
                "text": "東京で地震があった。Tokyo Electric said 1,200 homes lost power.",
            },
            {
                "id": "x3",
                "title": "Straße in München gesperrt",
                "text": "Die Polizei in München sperrte die Straße. Laut Polizei 12 Verletzte.",
            },
        ]
    arts = list(_arts(recs))
    s = Settings()
    f = corpus_features(arts, s)
    docs, names = _python_documents(arts, s, f.boilerplate)
    expected, vocab = _sklearn_tfidf(docs)
    cols = np.argsort(hash_strings(vocab))  # our columns ascend by term hash
    assert np.array_equal(np.sort(hash_strings(vocab)), f.term_hashes)
    assert f.tfidf.dtype == np.float32  # weighed in float64, kept in float32
    assert np.allclose(f.tfidf.toarray(), expected[:, cols], rtol=0, atol=1e-7)
    expected_names, name_vocab = _sklearn_tfidf(names)
    name_cols = np.argsort(hash_strings(name_vocab))
    assert np.allclose(f.names.toarray(), expected_names[:, name_cols], rtol=0, atol=1e-7)
    # and the words come back from the hashes, however many articles are read at a time
    assert term_strings(f, np.arange(len(vocab)), arts) == [vocab[c] for c in cols]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(features_module, "_WORD_ROWS", 1)
        assert term_strings(f, np.arange(len(vocab)), arts) == [vocab[c] for c in cols]


@pytest.mark.parametrize("scan_rows", [1, 2, 3, 16_384])
def test_first_rows_finds_each_columns_first_row(
    monkeypatch: pytest.MonkeyPatch, scan_rows: int
) -> None:
    rng = np.random.default_rng(8)
    dense = rng.random((23, 11)) * (rng.random((23, 11)) < 0.15)
    dense[:, 10] = 0.0  # one column nobody uses
    x = sp.csr_matrix(dense)
    monkeypatch.setattr(features_module, "_SCAN_ROWS", scan_rows)
    used = np.flatnonzero(x.getnnz(axis=0))
    cols = rng.permutation(used)
    by_column = sp.csc_matrix(x)
    by_column.sort_indices()
    expected = [int(by_column.indices[by_column.indptr[c]]) for c in cols]
    assert features_module._first_rows(x, cols).tolist() == expected
    with pytest.raises(ValueError, match="a column is used by no article"):
        features_module._first_rows(x, np.array([10]))


def test_article_record_is_accepted() -> None:
    r = storyclust.cluster(
        [Article(id="a", title="One"), Article(id="b", title="Two")], progress=False
    )
    assert r.labels.tolist() == [0, 1]
