"""A seeded synthetic news corpus: original articles and their reprints.

Articles have 300-900 words in paragraphs of sentences drawn from a Zipfian
vocabulary of made-up words (so common words repeat the way function words do).
A share of the articles are reprints of an earlier original ("wire copy"), with
the edits outlets really make: a changed headline, dropped, reordered or cut
paragraphs, a few changed words, and the outlet's boilerplate added. Popular
stories are reprinted many times, so some families are large.

The same ``(n, seed)`` gives the same corpus on every machine (numpy PCG64).
Benchmarks import it:

    from synthetic import make_corpus
    corpus = make_corpus(10_000, seed=0)
    corpus.documents[0]           # "Headline\\n\\nFirst paragraph ...\\n\\n..."
    corpus.family[0]              # index of the original this article reprints (itself if original)
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Corpus", "make_corpus"]

I64 = npt.NDArray[np.int64]

_CONSONANTS = "bcdfghjklmnprstvwz"
_VOWELS = "aeiou"


@dataclass(frozen=True)
class Corpus:
    """Parallel lists: one entry per article.

    Attributes
    ----------
    titles, bodies : list of str
    family : ndarray of int64
        Position of the original article each one reprints (its own position if original).
    source : ndarray of int64
        Outlet number (its boilerplate is appended to some reprints).
    """

    titles: list[str]
    bodies: list[str]
    family: I64
    source: I64

    @property
    def documents(self) -> list[str]:
        """Title and body as one text, the unit every benchmarked library hashes."""
        return [f"{t}\n\n{b}" for t, b in zip(self.titles, self.bodies)]

    def __len__(self) -> int:
        return len(self.titles)


def _vocabulary(rng: np.random.Generator, size: int) -> list[str]:
    """`size` distinct pronounceable made-up words, shortest (most frequent) first."""
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < size:
        m = 2 * (size - len(words)) + 64
        n_syll = rng.choice(np.array([1, 1, 2, 2, 2, 3, 3, 4]), size=m).tolist()
        cons = rng.integers(0, len(_CONSONANTS), size=(m, 5)).tolist()
        vows = rng.integers(0, len(_VOWELS), size=(m, 4)).tolist()
        coda = (rng.random(m) < 0.3).tolist()
        for s, c, v, e in zip(n_syll, cons, vows, coda):
            w = "".join(_CONSONANTS[c[j]] + _VOWELS[v[j]] for j in range(s))
            w += _CONSONANTS[c[4]] if e else ""
            if w not in seen and len(words) < size:
                seen.add(w)
                words.append(w)
    words.sort(key=len)
    return words


class _Writer:
    """Draws sentences, paragraphs and headlines from one Zipfian vocabulary."""

    def __init__(self, rng: np.random.Generator, vocab_size: int, exponent: float) -> None:
        self.rng = rng
        self.plain = _vocabulary(rng, vocab_size)
        self.capital = [w.capitalize() for w in self.plain]
        ranks = np.arange(1, vocab_size + 1, dtype=np.float64)
        weights = 1.0 / (ranks + 2.7) ** exponent  # Zipf-Mandelbrot
        self.cdf = np.cumsum(weights / weights.sum())

    def words(self, n: int) -> list[int]:
        """`n` word ids drawn from the Zipfian distribution."""
        ids = np.searchsorted(self.cdf, self.rng.random(n), side="right")
        return np.minimum(ids, len(self.plain) - 1).tolist()  # type: ignore[no-any-return]

    def paragraph(self, n_words: int) -> str:
        """Sentences of 8-25 words, capitalised, with commas and full stops."""
        ids = self.words(n_words)
        sent = [self.plain[w] for w in ids]
        comma = np.flatnonzero(self.rng.random(n_words) < 0.06).tolist()
        for c in comma:
            sent[c] += ","
        i = 0
        for length in self.rng.integers(8, 26, size=n_words // 8 + 1).tolist():
            if i >= n_words:
                break
            sent[i] = self.capital[ids[i]]
            i = min(i + length, n_words)
            sent[i - 1] = sent[i - 1].rstrip(",") + "."
        return " ".join(sent)

    def article(self) -> tuple[str, list[str]]:
        """A headline and the paragraphs of a 300-900-word article."""
        total = int(self.rng.integers(300, 901))
        paras: list[str] = []
        left = total
        while left > 0:
            n = min(int(self.rng.integers(30, 81)), left)
            if left - n < 15:  # no stub paragraph at the end
                n = left
            paras.append(self.paragraph(n))
            left -= n
        return self.headline(), paras

    def headline(self) -> str:
        """6-12 capitalised words."""
        return " ".join(self.capital[w] for w in self.words(int(self.rng.integers(6, 13))))

    def edit_words(self, paragraph: str, rate: float) -> str:
        """Replace about `rate` of the words (house style, typos, updated figures)."""
        words = paragraph.split(" ")
        n = int(self.rng.binomial(len(words), rate))
        if n:
            pos = self.rng.integers(0, len(words), size=n).tolist()
            for p, w in zip(pos, self.words(n)):
                words[p] = self.plain[w]
        return " ".join(words)


def _reprint(w: _Writer, title: str, paras: list[str], boiler: str | None) -> tuple[str, str]:
    """An outlet's reprint of (title, paras) with realistic edits."""
    rng = w.rng
    if rng.random() < 0.7:  # a new headline, or a few words of it changed
        title = w.headline() if rng.random() < 0.4 else w.edit_words(title, 0.3)
    out = list(paras)
    if len(out) > 3 and rng.random() < 0.25:  # cut to length from the end
        out = out[: len(out) - int(rng.integers(1, min(4, len(out) - 2)))]
    keep = [p for p in out if rng.random() >= 0.07]  # drop a few paragraphs
    out = keep if len(keep) >= 2 else out
    if len(out) > 2 and rng.random() < 0.3:  # move a paragraph
        i, j = rng.choice(len(out), size=2, replace=False).tolist()
        out.insert(j, out.pop(i))
    rate = float(rng.choice([0.0, 0.0, 0.005, 0.01, 0.03, 0.08]))
    if rate:
        out = [w.edit_words(p, rate) for p in out]
    if boiler is not None:
        out = [*out, boiler] if rng.random() < 0.8 else [boiler, *out]
    return title, "\n\n".join(out)


def make_corpus(
    n: int,
    *,
    seed: int = 0,
    reprint_share: float = 0.3,
    vocab_size: int = 50_000,
    zipf_exponent: float = 1.05,
    n_sources: int = 200,
    max_family: int = 80,
) -> Corpus:
    """Generate `n` articles, a `reprint_share` of them reprints of earlier originals.

    Parameters
    ----------
    n : int
    seed : int, default 0
    reprint_share : float, default 0.3
        Expected share of reprints; each picks an earlier original, popular
        ones more often (a few stories are reprinted dozens of times).
    vocab_size : int, default 50_000
    zipf_exponent : float, default 1.05
    n_sources : int, default 200
        Outlets, each with its own boilerplate paragraph (about 60% of reprints carry one).
    max_family : int, default 80
        Most articles in one family (original and reprints).
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    w = _Writer(rng, vocab_size, zipf_exponent)
    boilerplate = [w.paragraph(int(rng.integers(15, 60))) for _ in range(n_sources)]
    titles: list[str] = []
    bodies: list[str] = []
    family = np.zeros(n, dtype=np.int64)
    source = rng.integers(0, n_sources, size=n).astype(np.int64)
    paragraphs: dict[int, list[str]] = {}
    # Each original holds "tickets" in proportion to its popularity (heavy-tailed:
    # most stories are reprinted rarely, a few often); a reprint draws a ticket.
    tickets: list[int] = []
    size: dict[int, int] = {}
    for i in range(n):
        o = tickets[int(rng.integers(len(tickets)))] if tickets else -1
        if o >= 0 and rng.random() < reprint_share and size[o] < max_family:
            size[o] += 1
            boiler = boilerplate[int(source[i])] if rng.random() < 0.6 else None
            title, body = _reprint(w, titles[o], paragraphs[o], boiler)
            family[i] = o
        else:
            title, paras = w.article()
            body = "\n\n".join(paras)
            paragraphs[i] = paras
            size[i] = 1
            tickets.extend([i] * min(int(rng.pareto(1.3) * 2) + 1, 40))
            family[i] = i
        titles.append(title)
        bodies.append(body)
    return Corpus(titles=titles, bodies=bodies, family=family, source=source)


def main() -> None:
    """Print a summary of a corpus (sizes, families) and one reprint beside its original."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    c = make_corpus(args.n, seed=args.seed)
    words = np.array([len(b.split()) for b in c.bodies])
    _fam, size = np.unique(c.family, return_counts=True)
    summary = {
        "n": len(c),
        "words_min_median_max": [int(words.min()), int(np.median(words)), int(words.max())],
        "reprints": int((c.family != np.arange(len(c))).sum()),
        "families_with_reprints": int((size > 1).sum()),
        "largest_family": int(size.max()),
    }
    print(json.dumps(summary, indent=2))
    r = int(np.flatnonzero(c.family != np.arange(len(c)))[0])
    print("--- original:", c.titles[c.family[r]], "|", c.bodies[c.family[r]][:300])
    print("--- reprint: ", c.titles[r], "|", c.bodies[r][:300])


if __name__ == "__main__":
    main()
