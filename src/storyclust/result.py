"""StoryResult: labels, the story table, the scored links, explanations, export."""

from __future__ import annotations

import copy
import functools
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree

from .articles import Article, Articles, LoadReport
from .errors import InputError
from .io import article_to_dict, write_jsonl
from .links import Links
from .stories import ARCHIVE_MIN_STORIES

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["Story", "StoryResult"]

#: The fields every article record has (:func:`storyclust.io.article_to_dict`).
_ARTICLE_FIELDS = ("id", "title", "text", "source", "published", "url")

#: Columns of :attr:`StoryResult.links` (and of ``to_pandas("links")``, even with none).
_LINK_COLUMNS = [
    "a",
    "b",
    "score",
    "jaccard",
    "cosine",
    "headline",
    "names",
    "time_factor",
    "near_duplicate",
    "same_story",
]

_STORY_COLUMNS = [
    "story",
    "size",
    "representative_id",
    "title",
    "outlets",
    "n_outlets",
    "first_seen",
    "last_seen",
    "keywords",
    "cohesion",
    "weakest_link",
    "n_reports",
    "article_ids",
    "merged_ids",
]


#: The story size from which a mostly undated result gets a note (:attr:`StoryResult.notes`).
UNDATED_NOTE_SIZE = 30


@dataclass(frozen=True)
class Story:
    """One story: a row of the story table, or a story of a :class:`storyclust.StoryIndex`.

    Attributes
    ----------
    story_id : int
        The label its articles carry (0..k-1, by first appearance in the input).
    size : int
        Number of articles.
    representative_id : str
        Id of the article that stands for the story.
    title : str
        The representative's title (or the start of its text when it has none).
    outlets : list of str
        Distinct non-empty sources, sorted.
    first_seen, last_seen : datetime or None
        Earliest and latest publication time among its dated articles.
    keywords : list of str
        Terms that set this story apart from the others.
    cohesion : float
        Mean score over all pairs of its articles (every pair scored, not only
        candidates); 1.0 for a single article. For a story of a
        :class:`~storyclust.StoryIndex`: the mean over the pairs the index
        scored as the articles arrived, with the IDF of that time (a pair it never
        scored counts as 0, so this is at most the batch figure; the index scores
        every pair of a story while it is re-cut whole, up to 24 articles).
    weakest_link : tuple of (str, str, float) or None
        The two articles and the score of the weakest link of the story's maximum
        spanning tree: where it would split first. None for a single article, and
        for a story of a StoryIndex (it keeps no spanning tree).
    n_reports : int
        Distinct texts: near-duplicate reprints (an outlet's re-posts, wire copies)
        count once.
    article_ids : list of str
        Its articles, in input order (for a StoryIndex: in the order added).
    merged_ids : list of int
        Stories of a StoryIndex merged into this one (their ids now refer to it);
        always empty for a batch story.
    """

    story_id: int
    size: int
    representative_id: str
    title: str
    outlets: list[str]
    first_seen: datetime | None
    last_seen: datetime | None
    keywords: list[str]
    cohesion: float
    article_ids: list[str]
    weakest_link: tuple[str, str, float] | None = None
    n_reports: int = 1
    merged_ids: list[int] = field(default_factory=list)

    @property
    def n_outlets(self) -> int:
        """Number of distinct outlets."""
        return len(self.outlets)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the row."""
        return {
            "story": self.story_id,
            "size": self.size,
            "representative_id": self.representative_id,
            "title": self.title,
            "outlets": list(self.outlets),
            "n_outlets": self.n_outlets,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "keywords": list(self.keywords),
            "cohesion": round(self.cohesion, 4),
            "weakest_link": (
                None
                if self.weakest_link is None
                else [self.weakest_link[0], self.weakest_link[1], round(self.weakest_link[2], 4)]
            ),
            "n_reports": self.n_reports,
            "article_ids": list(self.article_ids),
            "merged_ids": list(self.merged_ids),
        }


@dataclass(frozen=True, eq=False)
class StoryResult:
    """What :func:`storyclust.cluster` returns.

    Attributes
    ----------
    articles : Articles
        The input articles, in input order.
    labels : ndarray of int64, shape (n_articles,)
        Story of each article: 0..k-1 numbered by first appearance.
    stories : list of Story
        The story table, indexed by story id.
    link_arrays : Links
        Scored links as arrays; ``pairs`` are positions in `articles`.
    settings : dict
        The settings used (seeds included), as saved with any output.
    report : LoadReport
        How many input records were read, loaded and skipped.
    timings : dict of str to float
        Seconds spent in each stage.
    memory : dict of str to float
        The estimate made before the run (:func:`storyclust.pipeline.estimate_memory`)
        and, where the system tells, the process's peak resident memory
        (``process_peak_mib``), in MiB.
    recut_from : ndarray of int64, shape (n_articles,), or None
        With ``recut_size``: for each article whose story was re-cut
        (:func:`storyclust.stories.recut_undated`), a number shared by the articles
        of the story it was cut from; -1 elsewhere. None without ``recut_size``.
    recut_info : dict or None
        With ``recut_size``: whether the corpus was read as an archive of running
        issues (:func:`storyclust.stories.archive_verdict`): ``{"archive": bool,
        "separation": median or None, "qualifying": k}``. None without ``recut_size``.

    Examples
    --------
    >>> import storyclust
    >>> result = storyclust.cluster([
    ...     {"id": "a", "title": "Quake of magnitude 7.1 hits Tokyo",
    ...      "text": "A strong earthquake shook Tokyo on Monday.", "source": "Reuters"},
    ...     {"id": "b", "title": "Strong earthquake shakes Tokyo",
    ...      "text": "A magnitude 7.1 quake hit Tokyo on Monday.", "source": "The Independent"},
    ...     {"id": "c", "title": "Parliament passes budget",
    ...      "text": "The budget vote passed on Tuesday.", "source": "BBC"},
    ... ], progress=False)
    >>> result
    <StoryResult: 3 articles in 2 stories, 1 links>
    >>> result.labels.tolist()
    [0, 0, 1]
    >>> story = result.stories[0]
    >>> story.size, story.outlets, story.article_ids
    (2, ['Reuters', 'The Independent'], ['a', 'b'])
    """

    articles: Articles
    labels: npt.NDArray[np.int64]
    stories: list[Story]
    link_arrays: Links
    settings: dict[str, Any]
    report: LoadReport
    timings: dict[str, float] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)
    recut_from: npt.NDArray[np.int64] | None = None
    recut_info: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return (
            f"<StoryResult: {len(self.articles)} articles in {len(self.stories)} stories, "
            f"{len(self.link_arrays)} links>"
        )

    @property
    def n_stories(self) -> int:
        """Number of stories."""
        return len(self.stories)

    @property
    def links(self) -> list[dict[str, Any]]:
        """Scored links as dicts with article ids ``a`` and ``b`` and every signal."""
        ids = self.articles.ids
        out = []
        for k in range(len(self.link_arrays)):
            rec = self.link_arrays.record(k)
            rec["a"], rec["b"] = ids[rec["a"]], ids[rec["b"]]
            rec["same_story"] = bool(
                self.labels[self.link_arrays.pairs[k, 0]]
                == self.labels[self.link_arrays.pairs[k, 1]]
            )
            out.append(rec)
        return out

    @functools.cached_property
    def notes(self) -> list[str]:
        """Things to check in this result, as sentences (empty when none); the
        ``storyclust`` command prints them, and :meth:`metadata` records them.
        Worked out once (a pass over the articles), at the first use.

        - Articles dated after tomorrow: most likely a mistyped year or a day-month
          swap, and they keep the article from stories it belongs to.
        - Articles dated in 1970: POSIX time near zero, most likely 0 written for an
          unknown date (or a small number read as seconds); like a wrong date, it
          keeps the article from stories it belongs to.
        - A story of 30 or more articles when at least half the articles have no
          date: without dates, the reports of a running issue followed for months
          (weekly jobless claims, a long hearing) can join one story, as measured on
          the undated AllSides probe (README, Quality). The default re-cut leaves
          such a story whole when its articles stay alike once their shared words
          are discounted (``recut_cohesion``); for an archive spanning months,
          ``recut_cohesion=1`` cuts it anyway (with ``recut_size=10`` if the
          re-cut is off). Given only for a story the re-cut looks at (mostly
          undated, mostly with text beyond a headline), and not when
          ``recut_cohesion`` is 1 or the corpus was read as an archive
          (``recut_archive``).
        """
        out = []
        soon = datetime.now(timezone.utc) + timedelta(days=1)
        future: list[Article] = []
        epoch: list[Article] = []  # dated in 1970
        undated = 0
        for a in self.articles:  # one pass for the three date checks
            if a.published is None:
                undated += 1
            elif a.published > soon:
                future.append(a)
            elif a.published.year == 1970:
                epoch.append(a)
        if future:
            last = max(future, key=lambda a: a.published or soon)
            when = last.published.isoformat() if last.published else ""
            out.append(
                f"{len(future)} articles are dated after tomorrow (the latest, {last.id!r}: "
                f"{when}); check their dates"
            )
        if epoch:
            out.append(
                f"{len(epoch)} articles are dated in 1970 (the first, {epoch[0].id!r}: "
                f"{epoch[0].published.isoformat() if epoch[0].published else ''}), near POSIX "
                "time 0: most likely 0 given for an unknown date; give null (None) instead"
            )
        big = max(self.stories, key=lambda s: s.size, default=None)
        largest = big.size if big is not None else 0
        recut = self.settings.get("recut_size")
        info = self.recut_info or {}
        gated = self.settings.get("recut_cohesion", 1) < 1 and not info.get("archive")
        if (
            big is not None
            and largest >= UNDATED_NOTE_SIZE
            and 2 * undated >= len(self.articles)
            and (not recut or gated)
            and self._recut_could_apply(big.story_id)
        ):
            fix = (
                "recut_cohesion=1 (--set recut_cohesion=1) cuts such stories again"
                if recut
                else "recut_size=10 and recut_cohesion=1 (--set recut_size=10 --set "
                "recut_cohesion=1) cut such stories again"
            )
            why = ""
            k, sep = info.get("qualifying", 0), info.get("separation")
            bar = self.settings.get("recut_archive")
            if recut and str(bar) == "inf":  # saved as "inf"; math.inf prints so too
                why = " (reading the input as an archive is off: recut_archive is inf)"
            elif recut and k < ARCHIVE_MIN_STORIES:
                why = (
                    f" (the input is not read as an archive: the re-cut looked at {k} "
                    f"{'story' if k == 1 else 'stories'}, fewer than the "
                    f"{ARCHIVE_MIN_STORIES} it needs to judge)"
                )
            elif recut and sep is not None:
                why = (
                    f" (the input is not read as an archive: the median separation of the {k} "
                    f"stories the re-cut looked at is {sep:.2f}, under recut_archive {bar})"
                )
            out.append(
                f"{undated} of {len(self.articles)} articles have no date and the largest story "
                f"holds {largest}; without dates, reports of a running issue followed over "
                f"months can join one story. If this archive spans months, {fix} by the rarity "
                f"of their words in the story{why} (README.md, Quality)"
            )
        return out

    def _recut_could_apply(self, story: int) -> bool:
        """Whether the undated re-cut looks at this story: at least half its articles
        undated, and fewer than half headlines alone (words of title and text, split
        on white space, at most ``headline_only_words``)."""
        members = [self.articles[int(p)] for p in np.flatnonzero(self.labels == story)]
        short = int(self.settings.get("headline_only_words", 20))
        n_short = sum(1 for a in members if len(f"{a.title} {a.text}".split()) <= short)
        n_undated = sum(1 for a in members if a.published is None)
        return 2 * n_undated >= len(members) and 2 * n_short < len(members)

    def recut_counts(self) -> dict[str, Any] | None:
        """How many stories the undated re-cut (``recut_size``) cut again, into how
        many, and whether the corpus was read as an archive of running issues
        (:attr:`recut_info`): ``{"stories": k, "pieces": p, "archive": bool,
        "separation": median or None, "qualifying": q}``; None when the re-cut was off.

        Examples
        --------
        >>> import storyclust
        >>> storyclust.cluster(["Quake hits Tokyo", "Tokyo quake"], progress=False).recut_counts()
        {'stories': 0, 'pieces': 0, 'archive': False, 'separation': None, 'qualifying': 0}
        """
        cut = self.recut_from
        if cut is None:
            return None
        hit = cut >= 0
        info = dict(self.recut_info or {"archive": False, "separation": None, "qualifying": 0})
        sep = info.get("separation")
        if isinstance(sep, float) and not math.isfinite(sep):  # JSON has no infinity
            info["separation"] = "inf"
        return {
            "stories": len(np.unique(cut[hit])),
            "pieces": len(np.unique(self.labels[hit])),
            **info,
        }

    def metadata(self, label_field: str | None = None) -> dict[str, Any]:
        """Library version, settings, input report and timings: what to save beside output.

        With `label_field` (the article output's story-id field, :meth:`to_jsonl`),
        also ``output``: that field and the name an input field of that name was
        kept under (None if none).
        """
        from . import __version__

        out = {
            "storyclust_version": __version__,
            "storyclust_commit": source_commit(),
            "settings": copy.deepcopy(self.settings),  # the caller's to change, not the result's
            "n_articles": len(self.articles),
            "n_stories": self.n_stories,
            "n_links": len(self.link_arrays),
            "lsh": dict(zip(("bands", "rows"), _lsh_of(self.settings))),
            "input": self.report.to_dict(),
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "memory": dict(self.memory),
            "notes": list(self.notes),
            "recut": self.recut_counts(),
        }
        if label_field is not None:
            out["output"] = {
                "label_field": label_field,
                "input_field_kept_as": self.renamed_input_field(label_field),
            }
        return out

    def _position(self, article_id: str) -> int:
        """Position of an article id, or a KeyError naming it."""
        index = self.__dict__.get("_index")
        if index is None:
            index = {a: i for i, a in enumerate(self.articles.ids)}
            object.__setattr__(self, "_index", index)
        if not isinstance(article_id, str) and str(article_id) in index:
            article_id = str(article_id)  # ids are strings: 7 for "7"
        try:
            return int(index[article_id])
        except KeyError:
            raise KeyError(f"no article with id {article_id!r} in this result") from None

    def story_of(self, article_id: str) -> Story:
        """The story that holds the article with this id.

        Parameters
        ----------
        article_id : str
            An article's id (an int is taken as the id it became: ``7`` for ``"7"``).

        Raises
        ------
        KeyError
            If no article has this id.

        Examples
        --------
        >>> import storyclust
        >>> result = storyclust.cluster([
        ...     {"id": "a", "title": "Quake of magnitude 7.1 hits Tokyo",
        ...      "text": "A strong earthquake shook Tokyo on Monday.", "source": "Reuters"},
        ...     {"id": "b", "title": "Strong earthquake shakes Tokyo",
        ...      "text": "A magnitude 7.1 quake hit Tokyo on Monday.", "source": "The Independent"},
        ...     {"id": "c", "title": "Parliament passes budget",
        ...      "text": "The budget vote passed on Tuesday.", "source": "BBC"},
        ... ], progress=False)
        >>> result.story_of("b").article_ids, result.story_of("c").article_ids
        (['a', 'b'], ['c'])
        """
        return self.stories[int(self.labels[self._position(article_id)])]

    def explain(self, a: str, b: str) -> dict[str, Any]:
        """Why articles `a` and `b` are in one story, or why not.

        Parameters
        ----------
        a, b : str
            Article ids (ints are taken as the ids they became).

        Returns
        -------
        dict
            ``same_story``; ``link``: the direct link's signals, or None if the two
            were never a scored candidate pair; ``path``: the chain of strongest
            links that joins them inside their story (a maximum spanning tree
            path), empty when apart; ``weights``: how the signals were combined;
            ``cohesion_a`` and ``cohesion_b``: their stories' cohesion; ``apart``:
            None when in one story, else why not (see below).

            ``apart`` holds ``reason`` (a sentence), ``same_linkage_group`` (whether
            a chain of links scoring at least ``threshold`` joins the two stories;
            if not, no cut could put them together), ``recut`` (whether the two were
            one story until ``recut_size`` cut it again), ``pairs_between`` (articles of
            one story times the other's), ``linked_pairs`` (how many of those pairs
            are scored links), ``strongest_link`` and ``mean_linked_score`` (over
            those links; None without any).

        Raises
        ------
        KeyError
            If either id is not in the result.

        Examples
        --------
        >>> import storyclust
        >>> result = storyclust.cluster([
        ...     {"id": "a", "title": "Quake of magnitude 7.1 hits Tokyo",
        ...      "text": "A strong earthquake shook Tokyo on Monday.", "source": "Reuters"},
        ...     {"id": "b", "title": "Strong earthquake shakes Tokyo",
        ...      "text": "A magnitude 7.1 quake hit Tokyo on Monday.", "source": "The Independent"},
        ...     {"id": "c", "title": "Parliament passes budget",
        ...      "text": "The budget vote passed on Tuesday.", "source": "BBC"},
        ... ], progress=False)
        >>> why = result.explain("a", "b")
        >>> why["same_story"], [(link["a"], link["b"]) for link in why["path"]]
        (True, [('a', 'b')])
        >>> sorted(why["link"])  # the signals of their direct link
        ['a', 'b', 'cosine', 'headline', 'jaccard', 'names', 'near_duplicate', 'score', 'time_factor']
        >>> apart = result.explain("a", "c")["apart"]
        >>> apart["same_linkage_group"], apart["linked_pairs"]
        (False, 0)
        """
        pa, pb = self._position(a), self._position(b)
        la, lb = int(self.labels[pa]), int(self.labels[pb])
        la_links = self.link_arrays
        lo, hi = min(pa, pb), max(pa, pb)
        hit = np.flatnonzero((la_links.pairs[:, 0] == lo) & (la_links.pairs[:, 1] == hi))
        ids = self.articles.ids
        direct = None
        if len(hit):
            direct = la_links.record(int(hit[0]))
            # In the order asked (the signals are symmetric), not the input's.
            direct["a"], direct["b"] = ids[pa], ids[pb]
        path: list[dict[str, Any]] = []
        if la == lb and pa != pb:
            path = self._path(pa, pb, la)
        s = self.settings
        return {
            "a": a,
            "b": b,
            "same_story": la == lb,
            "story_a": la,
            "story_b": lb,
            "link": direct,
            "path": path,
            "weights": {
                "headline_weight": s.get("headline_weight"),
                "headline_only_weight": s.get("headline_only_weight"),
                "headline_only_words": s.get("headline_only_words"),
                "names_weight": s.get("names_weight"),
                "near_duplicate_threshold": s.get("near_duplicate_threshold"),
                "time_window_days": s.get("time_window_days"),
                "time_decay_days": s.get("time_decay_days"),
                "threshold": s.get("threshold"),
                "linkage": s.get("linkage"),
                "recut_size": s.get("recut_size"),
                "recut_threshold": s.get("recut_threshold"),
                "recut_cohesion": s.get("recut_cohesion"),
                "recut_archive": s.get("recut_archive"),
            },
            "cohesion_a": self.stories[la].cohesion,
            "cohesion_b": self.stories[lb].cohesion,
            "apart": None if la == lb else self._apart(la, lb),
        }

    def _apart(self, la: int, lb: int) -> dict[str, Any]:
        """Why stories `la` and `lb` were not merged (see :meth:`explain`)."""
        lk, s = self.link_arrays, self.settings
        t = float(s["threshold"])
        story = self.labels[lk.pairs] if len(lk) else np.zeros((0, 2), dtype=np.int64)
        between = ((story[:, 0] == la) & (story[:, 1] == lb)) | (
            (story[:, 0] == lb) & (story[:, 1] == la)
        )
        scores = np.sort(lk.score[between])  # sums in an order of their own, not the input's
        na, nb = self.stories[la].size, self.stories[lb].size
        group = self.__dict__.get("_groups")
        if group is None:
            strong = lk.score >= t
            n = len(self.articles)
            g = sp.coo_matrix(
                (np.ones(int(strong.sum())), (lk.pairs[strong, 0], lk.pairs[strong, 1])),
                shape=(n, n),
            )
            group = connected_components(g, directed=False)[1]
            object.__setattr__(self, "_groups", group)
        members_a = np.flatnonzero(self.labels == la)
        members_b = np.flatnonzero(self.labels == lb)
        shared = np.intersect1d(group[members_a], group[members_b])
        same_group = len(shared) > 0
        group_size = int(np.isin(group, shared).sum()) if same_group else 0
        split_cap = int(s.get("max_component_size") or 0)
        strongest = float(scores.max()) if len(scores) else None
        mean = float(scores.mean()) if len(scores) else None
        linked = (
            f"{len(scores)} of the {na * nb} pairs between them are scored links (mean "
            f"{mean:.3f}, strongest {strongest:.3f})"
            if len(scores)
            else f"none of the {na * nb} pairs between them is a scored link"
        )
        cut_from = self.recut_from
        recut = (
            cut_from is not None
            and cut_from[members_a[0]] >= 0
            and cut_from[members_a[0]] == cut_from[members_b[0]]
        )
        if recut:
            assert cut_from is not None
            whole = int((cut_from == cut_from[members_a[0]]).sum())
            info = self.recut_info or {}
            how = (
                f"recut_archive {s.get('recut_archive')}: the corpus read as an archive of "
                f"running issues, median separation {info['separation']:.2f} over "
                f"{info['qualifying']} stories"
                if info.get("archive")
                else f"recut_cohesion {s.get('recut_cohesion')}"
            )
            reason = (
                f"re-cut: story {la} ({na} articles) and story {lb} ({nb}) were parts of one "
                f"story of {whole}, mostly undated, cut again by the rarity of its words among "
                f"its own articles (recut_size {s.get('recut_size')}, recut_threshold "
                f"{s.get('recut_threshold')}, {how}); {linked}"
            )
        elif not same_group:
            reason = (
                f"no chain of links scoring at least threshold {t:g} joins story {la} and story "
                f"{lb}: they were never in one linkage group; {linked}"
            )
        elif split_cap and group_size > split_cap:
            reason = (
                f"their linkage group of {group_size} articles is larger than "
                f"max_component_size ({split_cap}), so it was first split on its weakest "
                f"links, before {s.get('linkage', 'average')} linkage cut the pieces; raise "
                f"max_component_size to cut it whole (README: memory); {linked}"
            )
        elif s.get("linkage") == "single":
            reason = (
                f"single linkage: no pair between story {la} ({na} articles) and story {lb} "
                f"({nb}) scores at least threshold {t:g} by the exact scores of their group; "
                f"{linked}"
            )
        elif s.get("linkage") == "complete":
            reason = (
                f"complete linkage: some pair between story {la} ({na} articles) and story {lb} "
                f"({nb}) scores under threshold {t:g}; {linked}"
            )
        else:
            reason = (
                f"{s.get('linkage', 'average')} linkage: the mean score over all {na * nb} pairs "
                f"between story {la} ({na} articles) and story {lb} ({nb}) is under threshold "
                f"{t:g}, although they share a linkage group; {linked}, the others score lower "
                f"or were never candidates"
            )
        return {
            "reason": reason,
            "same_linkage_group": same_group,
            "recut": bool(recut),
            "pairs_between": na * nb,
            "linked_pairs": len(scores),
            "strongest_link": strongest,
            "mean_linked_score": mean,
        }

    def _path(self, pa: int, pb: int, story: int) -> list[dict[str, Any]]:
        """Links on the maximum-spanning-tree path from pa to pb inside one story."""
        # Members in the pipeline's canonical order (of content), not of the input: the
        # spanning tree among tied scores, and so the path, do not depend on the input order.
        rank = self.__dict__.get("_canonical_rank")
        if rank is None:
            from .stages import canonical_order

            rank = np.empty(len(self.articles), dtype=np.int64)
            rank[canonical_order(self.articles)] = np.arange(len(self.articles))
            object.__setattr__(self, "_canonical_rank", rank)
        members = np.flatnonzero(self.labels == story)
        members = members[np.argsort(rank[members])]
        local = {int(m): k for k, m in enumerate(members)}
        lk = self.link_arrays
        inside = np.flatnonzero(
            (self.labels[lk.pairs[:, 0]] == story) & (self.labels[lk.pairs[:, 1]] == story)
        )
        if len(inside) == 0:
            return []
        x = np.array([local[int(v)] for v in lk.pairs[inside, 0]])
        y = np.array([local[int(v)] for v in lk.pairs[inside, 1]])
        r, c = np.minimum(x, y), np.maximum(x, y)
        o = np.lexsort((c, r))  # edges in the members' order too
        inside, r, c = inside[o], r[o], c[o]
        # Maximum spanning tree: minimise 2 - score (strictly positive weights).
        g = sp.csr_matrix((2.0 - lk.score[inside], (r, c)), shape=(len(members),) * 2)
        tree = minimum_spanning_tree(g)
        tree = tree + tree.T
        _, pred = breadth_first_order(tree, local[pa], directed=False, return_predecessors=True)
        node, hops = local[pb], []
        while node != local[pa] and node >= 0:
            prev = int(pred[node])
            if prev < 0:
                return []  # linked only through the linkage average, not a chain of links
            hops.append((int(members[prev]), int(members[node])))
            node = prev
        ids = self.articles.ids
        out = []
        for u, v in reversed(hops):
            lo, hi = min(u, v), max(u, v)
            k = int(inside[(lk.pairs[inside, 0] == lo) & (lk.pairs[inside, 1] == hi)][0])
            rec = lk.record(k)
            rec["a"], rec["b"] = ids[u], ids[v]
            out.append(rec)
        return out

    def renamed_input_field(self, label_field: str = "story") -> str | None:
        """The name an input field called `label_field` is written under, if any article has one.

        See :func:`renamed_input_field`.
        """
        return renamed_input_field(self.articles, label_field)

    def article_records(self, label_field: str = "story") -> list[dict[str, Any]]:
        """Each article as a JSON-ready dict with its story id under `label_field`.

        An input field already called `label_field` is kept, renamed
        (:meth:`renamed_input_field`).
        """
        moved = self.renamed_input_field(label_field)
        out = []
        for art, lab in zip(self.articles, self.labels):
            rec = article_to_dict(art)
            if moved is not None and label_field in rec:
                rec[moved] = rec.pop(label_field)
            rec[label_field] = int(lab)
            out.append(rec)
        return out

    def to_jsonl(
        self,
        path: str | os.PathLike[str],
        *,
        stories_path: str | os.PathLike[str] | None = None,
        label_field: str = "story",
    ) -> int:
        """Write one JSON line per article with its story id; optionally the story table too.

        Parameters
        ----------
        path : str or os.PathLike
            The articles' file (``"-"``: standard output; ``.gz``: compressed),
            replaced atomically (:func:`storyclust.write_jsonl`).
        stories_path : str or os.PathLike, optional
            Where to write the story table (one :meth:`Story.to_dict` a line).
        label_field : str, default "story"
            The field that gets each article's story id; an input field of that
            name is kept as ``<label_field>_input``, or ``<label_field>_input_2`` (the next
            number free) if that is taken too (:meth:`renamed_input_field`).

        Returns
        -------
        int
            Article lines written.

        Raises
        ------
        OSError
            If a file cannot be written (its directory missing, say).
        storyclust.InputError
            If `label_field` is an article field.

        Examples
        --------
        >>> import json, tempfile
        >>> from pathlib import Path
        >>> import storyclust
        >>> result = storyclust.cluster(["Quake hits Tokyo", "Quake hits Tokyo again", "Budget passes"],
        ...                             threshold=0.3, progress=False)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     n = result.to_jsonl(Path(tmp, "articles.jsonl"), stories_path=Path(tmp, "stories.jsonl"))
        ...     lines = Path(tmp, "articles.jsonl").read_text().splitlines()
        >>> n, [json.loads(line)["story"] for line in lines]
        (3, [0, 0, 1])
        """
        n = write_jsonl(self.article_records(label_field), path)
        if stories_path is not None:
            write_jsonl((s.to_dict() for s in self.stories), stories_path)
        return n

    def write_metadata(self, path: str | os.PathLike[str], label_field: str | None = None) -> None:
        """Write :meth:`metadata` as JSON (settings and seeds saved beside output)."""
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.metadata(label_field), fh, indent=2, ensure_ascii=False)
            fh.write("\n")

    def to_html(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write a self-contained HTML report of the stories to `path`.

        Stories largest first, each with its representative headline, outlets,
        time span, keywords and articles; clicking an article shows the passages it
        shares with the representative; a search box filters stories by words. No
        network is needed to view it. `options` go to
        :func:`storyclust.report.write_html` (``title``, ``ngram``, ``page_size``,
        ``max_text_chars``).

        Parameters
        ----------
        path : str or os.PathLike
            The page to write (its folder is created if missing).
        **options
            As above.

        Returns
        -------
        pathlib.Path
            The file written.
        """
        from .report import write_html

        return write_html(self, path, **options)

    def to_pandas(self, what: str = "articles") -> pd.DataFrame:
        """A pandas DataFrame of the ``"articles"`` (with ``story``), ``"stories"`` or ``"links"``.

        Requires pandas (``pip install storyclust[pandas]``).

        Parameters
        ----------
        what : {"articles", "stories", "links"}, default "articles"
            Articles: id, story, title, source, published (UTC), url. Stories: the
            story table (:meth:`Story.to_dict`). Links: :attr:`links`, the same
            columns when there are none.

        Raises
        ------
        ValueError
            If `what` is none of those.

        Examples
        --------
        >>> import storyclust
        >>> result = storyclust.cluster(["Quake hits Tokyo", "Quake hits Tokyo again", "Budget passes"],
        ...                             threshold=0.3, progress=False)
        >>> result.to_pandas()["story"].tolist()
        [0, 0, 1]
        >>> result.to_pandas("stories")[["story", "size"]].values.tolist()
        [[0, 2], [1, 1]]
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_pandas needs pandas: pip install 'storyclust[pandas]'") from exc
        if what == "articles":
            # The dtypes of any non-empty result, for an empty one too (it had float64 and
            # second-unit columns, which broke code run on empty batches and concatenation).
            text = pd.Series(["x"]).dtype

            def strings(values: list[Any]) -> Any:
                return pd.Series(values, dtype=text)

            arts = self.articles
            return pd.DataFrame(
                {
                    "id": strings(arts.ids),
                    "story": pd.Series(self.labels, dtype=np.int64),
                    "title": strings([a.title for a in arts]),
                    "source": strings([a.source for a in arts]),
                    "published": pd.Series(
                        pd.to_datetime([a.published for a in arts], utc=True).as_unit("us")
                    ),
                    "url": strings([a.url for a in arts]),
                }
            )
        if what == "stories":
            df = pd.DataFrame([s.to_dict() for s in self.stories], columns=_STORY_COLUMNS)
            for col in ("first_seen", "last_seen"):
                if col in df:
                    df[col] = pd.to_datetime(df[col], utc=True)
            return df
        if what == "links":
            return pd.DataFrame(self.links, columns=_LINK_COLUMNS)
        raise ValueError(f"what must be 'articles', 'stories' or 'links'; got {what!r}")


def renamed_input_field(articles: Sequence[Article], label_field: str = "story") -> str | None:
    """The name an input field called `label_field` is written under, if any article has one.

    The story id goes under `label_field`; an input field of that name (the gold
    story of a labelled file, say) is kept as ``<label_field>_input`` rather than
    overwritten, or, if the input has that too (storyclust's own output clustered
    again), as ``<label_field>_input_2`` (or the next number free). None when no
    article has such a field.

    Raises
    ------
    InputError
        If `label_field` is one of the article fields (``id``, ``title``, ...).
    """
    if not isinstance(label_field, str) or label_field in _ARTICLE_FIELDS or not label_field:
        raise InputError(
            f"label_field must name a new field, not one of {', '.join(_ARTICLE_FIELDS)}; "
            f"got {label_field!r}"
        )
    if not any(label_field in a.extra for a in articles):
        return None
    # The first free name: storyclust's own output, clustered again, has both 'story'
    # and 'story_input'; its 'story' is then kept as 'story_input_2'.
    taken = {k for a in articles for k in a.extra if k.startswith(f"{label_field}_input")}
    moved, k = f"{label_field}_input", 1
    while moved in taken:
        k += 1
        moved = f"{label_field}_input_{k}"
    return moved


@functools.lru_cache(maxsize=1)
def source_commit() -> str | None:
    """The git commit of the storyclust source in use, when it runs from a checkout
    (an editable install); None for an installed package. Read from ``.git`` itself,
    no ``git`` command run; recorded beside the version with any output."""
    here = Path(__file__).resolve().parent
    for folder in (here, *here.parents):
        git = folder / ".git"
        if git.is_file():  # a worktree: "gitdir: <path>"
            text = git.read_text(encoding="utf-8", errors="replace").strip()
            git = (folder / text.partition("gitdir:")[2].strip()).resolve()
        if not git.is_dir():
            continue
        try:
            head = (git / "HEAD").read_text(encoding="utf-8").strip()
            if not head.startswith("ref:"):
                return head or None
            ref = head[4:].strip()
            if (git / ref).is_file():
                return (git / ref).read_text(encoding="utf-8").strip() or None
            common = git / "commondir"
            base = (git / common.read_text().strip()).resolve() if common.is_file() else git
            if (base / ref).is_file():
                return (base / ref).read_text(encoding="utf-8").strip() or None
            packed = base / "packed-refs"
            if packed.is_file():
                for line in packed.read_text(encoding="utf-8").splitlines():
                    sha, _, name = line.partition(" ")
                    if name.strip() == ref:
                        return sha
        except OSError:
            return None
        return None
    return None


def title_from_text(text: str, limit: int = 120) -> str:
    """A story title from an article's text, for articles without one: its first
    `limit` characters, cut at a word and marked with an ellipsis when cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:  # else one long word: cut inside it
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def _lsh_of(settings: dict[str, Any]) -> tuple[int, int]:
    """The (bands, rows) the run used, from its recorded settings."""
    from .similarity import lsh_params

    return lsh_params(
        float(settings["near_duplicate_threshold"]),
        int(settings["num_perm"]),
        min_recall=float(settings["lsh_min_recall"]),
    )


def build_stories(
    articles: Sequence[Article],
    labels: npt.NDArray[np.int64],
    links: Links,
    reps: npt.NDArray[np.int64],
    keywords: list[list[str]],
    *,
    cohesion: npt.NDArray[np.float64],
    weakest: npt.NDArray[np.int64],
    weakest_score: npt.NDArray[np.float64],
) -> list[Story]:
    """Assemble the story table from labels (0..k-1) and per-story parts."""
    k = len(reps)
    n = len(labels)
    members: list[list[int]] = [[] for _ in range(k)]
    for pos, lab in enumerate(labels):
        members[int(lab)].append(pos)
    # Near-duplicate groups: reprints of one text count as one report.
    nd = links.pairs[links.near_duplicate]
    graph = sp.coo_matrix((np.ones(len(nd)), (nd[:, 0], nd[:, 1])), shape=(n, n))
    _, group = connected_components(graph, directed=False)
    ids = [a.id for a in articles]
    out = []
    for s in range(k):
        idx = members[s]
        arts = [articles[p] for p in idx]
        rep = articles[int(reps[s])]
        dates = [a.published for a in arts if a.published is not None]
        a, b = int(weakest[s, 0]), int(weakest[s, 1])
        out.append(
            Story(
                story_id=s,
                size=len(idx),
                representative_id=rep.id,
                title=rep.title or title_from_text(rep.text),
                outlets=sorted({a.source for a in arts if a.source}),
                first_seen=min(dates) if dates else None,
                last_seen=max(dates) if dates else None,
                keywords=keywords[s],
                cohesion=float(cohesion[s]),
                article_ids=[a.id for a in arts],
                weakest_link=None if a < 0 else (ids[a], ids[b], float(weakest_score[s])),
                n_reports=len(set(group[idx].tolist())),
            )
        )
    return out
