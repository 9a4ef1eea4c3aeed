"""Features: boilerplate learning, names and figures, the TF-IDF and signature matrices."""

from __future__ import annotations

import numpy as np

import storyclust
from storyclust import Article, find_boilerplate, names_and_numbers
from storyclust.features import build_features, strip_lines
from storyclust.settings import Settings

from .corpora import BOILER, CORPUS, WIRE


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


def test_build_features_shapes() -> None:
    arts = _arts(CORPUS)
    f = build_features(list(arts), Settings())
    n = len(arts)
    assert f.tfidf.shape[0] == n and f.names.shape[0] == n
    assert f.signatures.shape == (n, 128) and f.signatures.dtype == np.uint32
    norms = np.sqrt(np.asarray(f.tfidf.multiply(f.tfidf).sum(axis=1)).ravel())
    assert np.allclose(norms, 1.0)
    assert f.has_shingles.all()
    assert np.isfinite(f.days).all()
    assert "comments" in f.boilerplate


def test_article_record_is_accepted() -> None:
    r = storyclust.cluster(
        [Article(id="a", title="One"), Article(id="b", title="Two")], progress=False
    )
    assert r.labels.tolist() == [0, 1]
