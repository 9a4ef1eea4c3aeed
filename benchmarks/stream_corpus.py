"""A seeded synthetic news *stream*: dated articles, stories reported for a few days.

``benchmarks/synthetic.py`` makes a corpus for the similarity kernel (reprints of
any earlier original, no dates). A stream index needs time: here articles arrive
at ``per_day`` a day, and a story is reported for a few days after it breaks,
by reprints (wire copy with light edits) and by rewrites (the same names and
figures, mostly other words). Most articles are one-off reports. Texts are
300-900 words from a Zipfian vocabulary of made-up words, with capitalised names
and figures mid-sentence, so every signal of the pipeline has work to do.

The same ``(seed, per_day)`` gives the same stream on every machine (numpy
PCG64); articles are generated in chunks, so a million of them take no memory.

    from stream_corpus import stream
    for article in stream(1000, seed=0):   # dicts: id, title, text, source, published, story
        ...
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

__all__ = ["stream"]

_CONSONANTS = "bcdfghjklmnprstvwz"
_VOWELS = "aeiou"
_START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _words(rng: np.random.Generator, size: int, syllables: tuple[int, ...]) -> list[str]:
    """`size` distinct pronounceable made-up words."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < size:
        n = rng.choice(np.array(syllables))
        w = "".join(
            _CONSONANTS[int(rng.integers(len(_CONSONANTS)))] + _VOWELS[int(rng.integers(5))]
            for _ in range(int(n))
        )
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


class _Writer:
    """Sentences from a Zipfian vocabulary, with names and figures of a story."""

    def __init__(self, rng: np.random.Generator, vocab: int = 40_000, names: int = 20_000) -> None:
        self.rng = rng
        self.vocab = np.array(sorted(_words(rng, vocab, (1, 2, 2, 3, 3, 4)), key=len))
        self.names = np.array([w.capitalize() for w in _words(rng, names, (2, 3, 3, 4))])
        w = 1.0 / (np.arange(1, vocab + 1) + 2.7) ** 1.05
        self.cdf = np.cumsum(w / w.sum())

    def text(self, n_words: int, names: list[str]) -> str:
        """`n_words` words in sentences, a story's names and figures sprinkled in."""
        ids = np.minimum(np.searchsorted(self.cdf, self.rng.random(n_words)), len(self.vocab) - 1)
        words = self.vocab[ids].tolist()
        for p in self.rng.integers(1, n_words, size=max(1, n_words // 25)).tolist():
            words[p] = names[int(self.rng.integers(len(names)))]
        out, i = [], 0
        for length in self.rng.integers(8, 26, size=n_words // 8 + 2).tolist():
            if i >= n_words:
                break
            sent = words[i : i + length]
            sent[0] = sent[0].capitalize()
            out.append(" ".join(sent) + ".")
            i += length
        paras = [" ".join(out[k : k + 4]) for k in range(0, len(out), 4)]
        return "\n\n".join(paras)

    def story_names(self) -> list[str]:
        """Three names and two figures that every report of a story mentions."""
        picks = self.names[self.rng.integers(len(self.names), size=3)].tolist()
        return [*picks, str(int(self.rng.integers(10, 10_000))), f"{self.rng.random() * 100:.1f}"]

    def title(self, names: list[str]) -> str:
        """A headline of 6-10 words with a name in it."""
        n = int(self.rng.integers(6, 11))
        ids = np.minimum(np.searchsorted(self.cdf, self.rng.random(n)), len(self.vocab) - 1)
        words = [w.capitalize() for w in self.vocab[ids].tolist()]
        words[int(self.rng.integers(n))] = names[0]
        return " ".join(words)


def stream(
    n: int,
    *,
    seed: int = 0,
    per_day: int = 3000,
    follow_share: float = 0.35,
    story_days: float = 3.0,
    n_sources: int = 300,
    start: int = 0,
) -> Iterator[dict[str, Any]]:
    """Yield articles ``start .. start + n - 1`` of the stream, in arrival order.

    Parameters
    ----------
    n : int
    seed : int, default 0
    per_day : int, default 3000
        Articles a day (publication times advance by ``1 / per_day`` days each,
        with up to an hour of jitter).
    follow_share : float, default 0.35
        Share of articles that follow up a story broken in the last `story_days`
        days: half reprints (edited wire copy), half rewrites.
    story_days : float, default 3.0
    n_sources : int, default 300
    start : int, default 0
        Skip the first `start` articles (they are generated, not yielded: the
        stream is the same whatever the chunking).
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    w = _Writer(rng)
    recent: list[tuple[int, float, list[str], str, str]] = []  # story, day, names, title, text
    for i in range(start + n):
        day = i / per_day + rng.random() / 24
        while recent and recent[0][1] < day - story_days:
            recent.pop(0)
        src = f"outlet{int(rng.integers(n_sources))}"
        if recent and rng.random() < follow_share:
            story, _, names, title, text = recent[int(rng.integers(len(recent)))]
            if rng.random() < 0.5:  # reprint: a few edits, maybe a new headline
                paras = text.split("\n\n")
                if len(paras) > 2 and rng.random() < 0.5:
                    paras = paras[: len(paras) - 1]
                body = "\n\n".join(paras)
                if rng.random() < 0.4:
                    title = w.title(names)
            else:  # rewrite: same names and figures, new words
                body = w.text(int(rng.integers(300, 901)), names)
                title = w.title(names)
        else:
            story = i
            names = w.story_names()
            title, body = w.title(names), w.text(int(rng.integers(300, 901)), names)
            recent.append((story, day, names, title, body))
        if i >= start:
            yield {
                "id": f"a{i}",
                "title": title,
                "text": body,
                "source": src,
                "published": (_START + timedelta(days=day)).isoformat(),
                "story": story,
            }


def main() -> None:
    """Print the first articles of a stream as JSON lines."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for a in stream(args.n, seed=args.seed):
        print(json.dumps({**a, "text": a["text"][:200] + "..."}))


if __name__ == "__main__":
    main()
