"""StoryIndex: assign a stream of articles to stories, kept in an SQLite file.

:func:`storyclust.cluster` sees every article at once. A news stream does not:
today's articles must join yesterday's stories without refitting everything.
:class:`StoryIndex` keeps what it needs to score a new article against the
articles it holds, in an SQLite database (a file, or ``:memory:``), and assigns
each new article to an existing story or opens a new one.

How an article is assigned
--------------------------
The signals and weights are those of the batch pipeline (:mod:`storyclust.links`):
TF-IDF cosine of title and text, headline similarity of the content words, the
names-and-figures cosine, the time factor, and the near-duplicate floor from the
MinHash signature, combined by :func:`storyclust.links.combine_scores`. For each
article, in input order:

1. **Candidates**: the articles sharing an LSH band key with it (looked up in
   the LSH runs, below, whatever their age: a reprint finds its story however
   old; the ``200`` most recent of them) and its ``max_neighbors`` best TF-IDF neighbours among the articles
   within the *time horizon* (below).
2. **Story score**: for each story holding a candidate, the article is scored
   against the story's members within the horizon (and any older member that is
   an LSH candidate), and the scores are combined as ``linkage`` says: their mean
   for ``"average"`` (the default), maximum for ``"single"``, minimum for
   ``"complete"``. This is batch average linkage's criterion, one article at a
   time. A story larger than ``max_story_members`` is represented by its most
   recent members (a cost bound).
3. **Decision**: the article joins the best-scoring story if that score is at
   least ``threshold`` (ties go to the older story), else opens a new story.
4. **Merge**: if it joined story A and also scores at least ``threshold`` with
   story B, A-with-it and B are merged when their linkage score (every pair
   between them scored) reaches ``threshold``. The merged story keeps the older
   (smaller) id.
5. **Re-cut**: one pass cannot undo an early mistake (two events of one kind, an
   earthquake here and one there, look alike while each story has one or two
   articles). So the story the article joined is re-clustered by the batch
   stories stage (links, components, the ``linkage`` dendrogram cut at
   ``threshold``: :func:`storyclust.stories.group_links`, computed here on the
   exact pair scores) at every join while it has at most 24 members within the
   horizon, together with the other stories the article linked to (at most 32
   articles in all); a larger story is re-clustered alone, when its size reaches
   a fixed schedule (every ~25% of growth, so the total cost stays linear). The
   result is applied with stable ids: a story keeps its id for the part holding
   its oldest article, parts move to the story they now belong with or to a new
   one ("split" events), and stories whose kept parts fall together are merged
   into the oldest ("merge" events).

Merges and splits are events (:meth:`StoryIndex.events`, and
:attr:`Assignment.merged` / :attr:`Assignment.split`). Story ids are never
renamed: a merged id refers to the story it joined (:meth:`StoryIndex.get`).

**Time horizon.** Beyond ``time_window_days + time_decay_days * ln(1 /
link_threshold)`` days (8.9 with the defaults) the time factor keeps every pair
below ``link_threshold``, so only near-duplicates could link: TF-IDF candidates
and story members are taken within that distance of the article, and only
articles within it of the newest date seen are kept in memory. Unlike batch
average linkage, members beyond the horizon do not dilute a story's score, so a
story that keeps being reported keeps growing. An article that arrives late
(dated before what memory holds) is compared with the articles of its own
period, read from the database. ``time_window_days=math.inf`` keeps everything
in memory.

**Articles without a date** are, as in batch, never penalised by time. An
undated article is compared with every undated article held, with the dated
ones within the horizon behind the index clock (the newest publication time
held when the :meth:`~StoryIndex.add` call starts; all of them before any), and
with its LSH candidates of any age. Undated articles stay in memory until
removed or expired (:meth:`StoryIndex.expire` removes them by the time they were
added): a stream of many undated articles costs memory and time in proportion.

**Streaming TF-IDF.** Tokens are hashed (64-bit FNV-1a, the token hash of
:mod:`storyclust.text`) into ``2**20`` term ids; an article's vector is stored
without IDF, as term ids and counts. The document frequencies of what the index
holds are kept, updated as articles arrive and leave, and IDF is computed from
them when scoring (scikit-learn's smoothed IDF, sublinear TF, L2 norm, as in
batch). Within one :meth:`~StoryIndex.add` call every article is scored with the
frequencies of the index including the whole call, so adding a whole file in
one call uses the batch pipeline's IDF formula, over hashed term ids: terms that
share one of the ``2**20`` ids make cosines differ slightly from batch (up to
0.04 on UCI's headlines, where 40 of 6,294 terms share an id). TF-IDF neighbours are found with the
article's 32 heaviest terms (all of them for headlines and short texts), leaving
out hub terms held by more than 5,000 of the articles in memory (their inverted
lists would cost more than all the others, for the least IDF); the cut on the
cosine is lowered by the share of the article's weight left out.

**Boilerplate** (``strip_boilerplate``) is learned with
:func:`storyclust.find_boilerplate` on each :meth:`~StoryIndex.add` call; the
lines learned are stored and stripped from every later article. Add articles in
batches of hundreds to learn it (the command line does).

Storage and safety
------------------
One SQLite file. Every write (:meth:`~StoryIndex.add`, :meth:`~StoryIndex.remove`,
:meth:`~StoryIndex.expire`) is one transaction (``BEGIN IMMEDIATE`` ...
``COMMIT``): a process killed in the middle leaves the index as of its last
commit. The file is in WAL mode with ``synchronous=NORMAL`` (a killed process
loses nothing committed; a power cut may lose the last commits, never
consistency), so readers in other processes see the last committed state while
one writer adds, and an open index notices another connection's writes and
reloads. The write-ahead log is folded into the file by a passive checkpoint on
another thread and connection after each write, not by the commit that fills
it; the next write waits for it (before it begins once the log holds 64 MB). Arrays are stored as little-endian bytes whose dtypes are recorded in
the file, dictionaries as JSON: there is no pickle, and opening a file runs no
code from it (``trusted_schema`` is off, and a file with triggers or views is
refused). Stored with the data: the settings, the seed, the hash scheme, the
library version and the format version; opening with other fixed settings,
another hash scheme or a newer format raises :class:`storyclust.SettingsError`
naming what differs.

Stored per article: id, title, source, url, publication time, the first 200
characters of the text, the term ids and counts of its text and of its names,
and its MinHash signature and LSH keys. Not stored: the full text and the
``extra`` fields.

**LSH runs.** The band keys are not a B-tree table: each new key would be a
write to a random page, which at a million articles costs more than all the
rest of an article's work. They are stored as sorted runs (an LSM tree): each
:meth:`~StoryIndex.add` writes one run of its articles' keys, and the newest
runs are merged while one is at most twice the size of the next, up to 4M
entries a run, so there are O(log n) runs and each key is rewritten O(log n)
times. The runs are held in memory (16 bytes a key, ``bands`` keys an article)
and searched by bisection; :meth:`~StoryIndex.remove` and
:meth:`~StoryIndex.expire` rewrite the runs that held the articles removed.

A reopened index gives the same assignments as the one that wrote it: what an
article is compared with is defined by the stored data (time, LSH keys), not by
what happens to be in memory.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import math
import os
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy.cluster.hierarchy import linkage

try:  # the compiled routines behind scipy's linkage (see _linkage_matrix)
    from scipy.cluster import _hierarchy as _scipy_hierarchy
    from scipy.cluster import hierarchy as _scipy_linkage_module

    _SCIPY_METHODS: dict[str, int] = dict(_scipy_linkage_module._LINKAGE_METHODS)
except (ImportError, AttributeError):  # pragma: no cover - another scipy: linkage itself
    _SCIPY_METHODS = {}

from ._index_kernels import (
    available_cpus,
    candidate_stories,
    components,
    count_terms,
    cut_distances,
    cut_labels,
    eligible,
    linkage_by,
    live_row_norms,
    neighbours,
    query_rows,
    query_weights,
    same_partition,
    story_members,
    work_space,
)
from ._index_records import Assignment, StoryEvent, StoryMatch
from ._index_state import (
    N_TERMS,
    Ahead,
    Batch,
    Signals,
    bucket_keys,
    distinct_pairs,
    featurize,
    pack_rows,
    signals,
    term_ids,
)
from ._index_store import (
    ARTICLES,
    FORMAT_VERSION,
    SCORE,
    Changes,
    IndexStore,
    Op,
    chunks,
    stored_array,
)
from .articles import Article, Articles, LoadReport, SkippedRecord, to_articles
from .errors import InputError, InputTypeError, SettingsError
from .result import Story, title_from_text
from .settings import Settings
from .similarity import band_candidates, band_keys, top_per_row
from .text import STOP_WORDS, hash_strings, tokenize

__all__ = [
    "FORMAT_VERSION",
    "Assignment",
    "IndexStory",
    "StoryEvent",
    "StoryIndex",
    "StoryMatch",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U64 = npt.NDArray[np.uint64]
B1 = npt.NDArray[np.bool_]


_QUERY_TERMS: Final = 32  # heaviest terms of an article used to find TF-IDF neighbours
_MAX_POSTINGS: Final = 5000  # articles held with a term beyond which it is not searched
_MAX_LSH: Final = 200  # most recent articles taken from one LSH bucket
_NONE: Final = np.zeros(0, dtype=np.int64)  # no LSH candidates
_LINKAGE_CODE: Final = {"average": 0, "single": 1, "complete": 2}  # as ``linkage_by`` takes it
_MAX_PAIRS: Final = 250_000  # largest block of pairs scored for one merge
_RECUT_EVERY: Final = 24  # stories up to this size are re-cut at every join
_HOOD_SMALL: Final = 32  # articles in the neighbourhood re-cut then

_STORY_COLUMNS: Final = (
    f"story, row, id, title, snippet, source, day, title_words, n_tokens, {SCORE}, "
    "has_shingles, signature"
)


# The records are defined beside, and belong here (as httpx names its package as the
# module of what it re-exports): help(), repr and their doctests see them as ours.
for _record in (Assignment, StoryMatch, StoryEvent):
    _record.__module__ = __name__

# A story held by the index is the batch story table's row type (Story), filled
# from what the index stores; the old name stays for code that imports it.
IndexStory = Story


@dataclass
class _Scored:
    """An article scored against the members of its candidate stories."""

    stories: I64  # candidate stories, ascending
    agg: F64  # linkage score with each
    members: I64  # member slots, grouped by story
    owner: I64  # index into `stories` of each member
    signals: Signals  # shape (1, len(members))


# --- the index ------------------------------------------------------------------------------


class StoryIndex(IndexStore):
    """Assign a stream of articles to stories, persisted in SQLite.

    Parameters
    ----------
    path : str, os.PathLike or None, default None
        The index file; created if missing. None keeps the index in memory
        (SQLite ``:memory:``); :meth:`save` can copy it to a file.
    readonly : bool, default False
        Open an existing file for reading only (:meth:`query`, :meth:`stories`,
        :meth:`get`, ...) while other processes may write to it.
    max_story_members : int, default 100
        Most members of one story an article is scored against (the most recent
        ones): bounds the cost of very large stories.
    **settings
        The settings of :func:`storyclust.cluster` (``threshold``,
        ``link_threshold``, the weights, the time window, ``linkage``, ...). A new
        index stores them. An existing one uses its stored settings; those given
        here must agree with them where they shape what is stored
        (``title_weight``, ``lead_weight``, ``lead_words``, ``shingle_size``,
        ``num_perm``, ``seed``, ``near_duplicate_threshold``, ``lsh_min_recall``), and the others
        (thresholds, weights, time, linkage, representative, ...) replace the
        stored ones from then on. ``max_component_size`` is not used: a re-cut
        covers at most ``max_story_members`` articles. A callable
        ``representative`` cannot be stored and is refused.

    Raises
    ------
    storyclust.SettingsError
        A setting out of range, unknown, or in conflict with the stored index; a
        file of a newer format or of another hash scheme.
    storyclust.InputError
        The file is not a storyclust index, or is damaged.
    FileNotFoundError
        `readonly` and there is no file at `path`.

    See Also
    --------
    storyclust.cluster : all articles at once.

    Notes
    -----
    How articles are assigned, stored and kept safe: the module documentation,
    ``help(storyclust.index)``. An index is not thread-safe: use one per thread
    (or process; they may share a file).

    Examples
    --------
    >>> index = StoryIndex()
    >>> first = index.add([
    ...     {"id": "a", "title": "Quake of magnitude 7.1 hits Tokyo",
    ...      "text": "A strong earthquake shook Tokyo.", "published": "2024-05-01T08:00:00Z"},
    ...     {"id": "b", "title": "Parliament passes budget",
    ...      "text": "The budget vote passed on Tuesday.", "published": "2024-05-01T09:00:00Z"},
    ... ])
    >>> [(x.article_id, x.story_id, x.new_story) for x in first]
    [('a', 0, True), ('b', 1, True)]
    >>> later = index.add([{"id": "c", "title": "Strong earthquake shakes Tokyo",
    ...     "text": "A magnitude 7.1 quake hit Tokyo.", "published": "2024-05-01T10:00:00Z"}])
    >>> later[0].story_id, later[0].new_story, later[0].link["b"]
    (0, False, 'a')
    >>> len(index), index.get(0).article_ids
    (3, ['a', 'c'])
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        readonly: bool = False,
        max_story_members: int = 100,
        **settings: Any,
    ) -> None:
        if (
            isinstance(max_story_members, bool)
            or not isinstance(max_story_members, int)
            or max_story_members < 2
        ):
            raise SettingsError(
                f"max_story_members must be an integer >= 2; got {max_story_members!r}"
            )
        given = Settings.from_kwargs(**settings)
        if callable(given.representative):
            raise SettingsError(
                "a StoryIndex cannot store a callable representative; use 'central', "
                "'earliest', 'longest' or a list of outlets in order of preference"
            )
        self._max_members = max_story_members
        self._last_report = LoadReport()
        self._path = None if path is None else os.fspath(path)
        self._readonly = readonly
        if readonly and self._path is None:
            raise SettingsError("readonly=True needs a path: an in-memory index starts empty")
        if readonly and self._path is not None and not Path(self._path).exists():
            raise FileNotFoundError(f"no index at {self._path!r}; StoryIndex(path) creates one")
        self._conn = self._connect()
        self._checkpointer: ThreadPoolExecutor | None = None
        self._checkpointing: Future[int] | None = None
        self._log_frames = 0  # pages in the write-ahead log at the last checkpoint
        self._settings = given
        try:
            if self._is_empty():
                if readonly:
                    raise InputError("not a storyclust index: the file is empty", path=self._path)
                self._create(given)
            self._check_file()
            self._settings = self._apply_settings(settings)
            self._reload()
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, readonly: bool = False, **settings: Any
    ) -> StoryIndex:
        """Open an existing index file.

        Parameters
        ----------
        path : str or os.PathLike
        readonly : bool, default False
        **settings
            As for :class:`StoryIndex`.

        Returns
        -------
        StoryIndex

        Raises
        ------
        FileNotFoundError
            If there is no file at `path`.
        storyclust.SettingsError
            Settings in conflict with the index, or a newer format.
        storyclust.InputError
            The file is not a storyclust index.

        Examples
        --------
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "news.db")
        >>> with StoryIndex(path) as index:
        ...     _ = index.add(["Quake hits Tokyo", "Budget passes"])
        >>> with StoryIndex.open(path) as index:
        ...     len(index)
        2
        """
        p = os.fspath(path)
        if not Path(p).exists():
            raise FileNotFoundError(f"no index at {p!r}; StoryIndex(path) creates one")
        return cls(p, readonly=readonly, **settings)

    # --- public API -----------------------------------------------------------------------

    @property
    def path(self) -> str | None:
        """The index file, or None for an in-memory index."""
        return self._path

    @property
    def settings(self) -> Settings:
        """The settings in force (as stored in the index)."""
        return self._settings

    def __len__(self) -> int:
        """Number of articles held."""
        self._sync()
        return self._n_docs

    def __contains__(self, article_id: object) -> bool:
        """True if an article with this id is held."""
        self._sync()
        row = self._conn.execute("SELECT 1 FROM articles WHERE id = ?", (str(article_id),))
        return row.fetchone() is not None

    def __repr__(self) -> str:
        return f"<StoryIndex {self._path or ':memory:'}: {self._n_docs} articles>"

    def __enter__(self) -> StoryIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connection (every write is already committed)."""
        try:
            self._checkpointed()
        finally:
            if self._checkpointer is not None:
                self._checkpointer.shutdown()
                self._checkpointer = None
            self._conn.close()

    def add(self, articles: Any, *, errors: str = "raise") -> list[Assignment]:
        """Add articles, each joining an existing story or opening a new one.

        Articles are processed in input order, each seeing those before it; the
        whole call is one transaction.

        Parameters
        ----------
        articles : list of dict, list of str, list of Article, Articles, or DataFrame
            As for :func:`storyclust.cluster`.
        errors : {"raise", "skip"}, default "raise"
            What to do with a bad record (see :func:`storyclust.to_articles`) or an
            article whose id the index already holds: raise, or leave it out.

        Returns
        -------
        list of Assignment
            One per article added, in input order (skipped articles have none;
            :attr:`last_report` counts and names them).

        Raises
        ------
        storyclust.InputError
            A bad record, or an id already in the index (remove it first to replace
            it), with ``errors="raise"``. Nothing is added.
        storyclust.InputTypeError
            `articles` is not a collection of articles (e.g. a bare string).

        Examples
        --------
        >>> index = StoryIndex()
        >>> text = ("Rescuers searched the rubble of the collapsed market in Mamuju for survivors on "
        ...         "Friday, as aftershocks shook the city and officials warned of more damage to come.")
        >>> out = index.add([text, text + " (Reuters)"])
        >>> [a.story_id for a in out], out[1].link["near_duplicate"]
        ([0, 0], True)
        """
        arts = to_articles(articles, errors=errors)
        if isinstance(articles, Articles):  # loaded before (its report covers a whole file)
            arts = Articles._trusted(tuple(arts), LoadReport(n_read=len(arts), n_loaded=len(arts)))
        self._last_report = arts.report
        if not len(arts):
            return []
        with self._transaction(overlap=True):
            arts = self._new_only(arts, skip=errors == "skip")
            self._last_report = arts.report
            return self._add(arts) if len(arts) else []

    @property
    def last_report(self) -> LoadReport:
        """What the last :meth:`add` read, added and skipped.

        With ``errors="skip"``, bad records and articles whose id the index
        already held, each with its reason (``n_loaded``: articles added).
        """
        return self._last_report

    def query(self, article: Any, *, k: int = 5) -> list[StoryMatch]:
        """The stories an article is closest to, without adding it.

        Scored as :meth:`add` scores: the first match at or above ``threshold``
        is the story :meth:`add` would put the article in (before any merge).

        Parameters
        ----------
        article : dict, str or Article
            One article.
        k : int, default 5
            Most stories to return.

        Returns
        -------
        list of StoryMatch
            Best first (ties by story id), including stories below ``threshold``.

        Raises
        ------
        storyclust.InputTypeError
            If `article` is a list of articles: query them one at a time.

        Examples
        --------
        >>> index = StoryIndex()
        >>> _ = index.add(["Quake of magnitude 7.1 hits Tokyo, buildings sway",
        ...                "Parliament passes the budget after a long night"])
        >>> best = index.query("Strong quake of magnitude 7.1 shakes Tokyo")[0]
        >>> best.story_id, best.score >= index.settings.threshold
        (0, True)
        """
        if isinstance(article, (list, tuple, Articles)):
            raise InputTypeError(
                f"query takes one article; got a {type(article).__name__}: query each one, or "
                "use add() to add many"
            )
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise SettingsError(f"k must be an integer >= 1; got {k!r}")
        arts = to_articles([article])
        self._sync()
        return self._query(arts[0], k)

    def remove(self, ids: Iterable[str]) -> int:
        """Remove articles by id.

        Their stories keep their ids and their other articles (a story is not
        re-cut when an article leaves it); a story left without articles is gone.

        Parameters
        ----------
        ids : iterable of str

        Returns
        -------
        int
            Number of articles removed.

        Raises
        ------
        KeyError
            If any id is not in the index (then nothing is removed).
        storyclust.InputTypeError
            If `ids` is a single string.

        Examples
        --------
        >>> index = StoryIndex()
        >>> _ = index.add([{"id": "a", "text": "Quake hits Tokyo"}, {"id": "b", "text": "Budget passes"}])
        >>> index.remove(["a"]), "a" in index, len(index)
        (1, False, 1)
        """
        if isinstance(ids, (str, bytes)):
            raise InputTypeError(
                f"ids must be a list of article ids; got the string {ids!r}: write [{ids!r}]"
            )
        wanted = list(dict.fromkeys(str(x) for x in ids))
        if not wanted:
            return 0
        with self._transaction():
            rows: list[int] = []
            for chunk in chunks(wanted, 500):
                marks = ",".join("?" * len(chunk))
                found = dict(
                    self._conn.execute(
                        f"SELECT id, row FROM articles WHERE id IN ({marks})", chunk
                    ).fetchall()
                )
                missing = [x for x in chunk if x not in found]
                if missing:
                    shown = ", ".join(repr(x) for x in missing[:5])
                    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
                    raise KeyError(f"not in the index: {shown}{more}; nothing was removed")
                rows.extend(int(found[x]) for x in chunk)
            self._remove_rows(rows)
        return len(rows)

    def expire(self, before: Any) -> int:
        """Remove the articles published before a time.

        Undated articles are removed if they were *added* before it (wall clock).

        Parameters
        ----------
        before : datetime, date, str (ISO 8601) or float (POSIX seconds)
            Naive datetimes are UTC.

        Returns
        -------
        int
            Number of articles removed.

        Raises
        ------
        storyclust.SettingsError
            If `before` is not a time.

        Examples
        --------
        >>> index = StoryIndex()
        >>> _ = index.add([{"id": "old", "text": "Quake hits Tokyo", "published": "2024-01-01"},
        ...                {"id": "new", "text": "Budget passes", "published": "2024-03-01"}])
        >>> index.expire(before="2024-02-01"), "old" in index, "new" in index
        (1, False, True)
        """
        cut = _as_datetime(before, "before")
        with self._transaction():
            rows = [
                int(r)
                for (r,) in self._conn.execute(
                    "SELECT row FROM articles WHERE day < ? "
                    "UNION SELECT row FROM articles WHERE day IS NULL AND added < ?",
                    (cut.timestamp() / 86400.0, cut.timestamp()),
                )
            ]
            if rows:
                self._remove_rows(rows)
        return len(rows)

    def stories(self, *, min_size: int = 1) -> list[Story]:
        """Every story held, by id.

        Parameters
        ----------
        min_size : int, default 1
            Leave out stories with fewer articles.

        Returns
        -------
        list of Story

        Examples
        --------
        >>> index = StoryIndex()
        >>> _ = index.add(["Quake of magnitude 7.1 hits Tokyo", "Magnitude 7.1 quake hits Tokyo",
        ...                "Parliament passes the budget"])
        >>> [(s.story_id, s.size) for s in index.stories()]
        [(0, 2), (1, 1)]
        """
        self._sync()
        rows = self._conn.execute(
            f"SELECT {_STORY_COLUMNS} FROM {ARTICLES} ORDER BY story, row"
        ).fetchall()
        merged = self._merged_ids()
        out: list[Story] = []
        start = 0
        for end in range(1, len(rows) + 1):
            if end == len(rows) or rows[end][0] != rows[start][0]:
                if end - start >= min_size:
                    out.append(self._story(rows[start:end], merged.get(int(rows[start][0]), [])))
                start = end
        return out

    def get(self, story_id: int) -> Story:
        """One story by id; the id of a story merged into another gives that other.

        As a batch :class:`Story`, with ``merged_ids``; ``weakest_link`` is None
        (the index keeps scores per article, not the links).

        Raises
        ------
        KeyError
            If no story has (or had) this id, or all its articles are gone.

        Examples
        --------
        >>> index = StoryIndex()
        >>> _ = index.add(["Quake hits Tokyo"])
        >>> index.get(0).size
        1
        """
        self._sync()
        sid = self._resolve(int(story_id))
        rows = self._conn.execute(
            f"SELECT {_STORY_COLUMNS} FROM {ARTICLES} WHERE story = ? ORDER BY row", (sid,)
        ).fetchall()
        if not rows:
            known = self._conn.execute("SELECT 1 FROM stories WHERE id = ?", (sid,)).fetchone()
            why = "all its articles were removed or expired" if known else "no such story"
            raise KeyError(f"story {story_id}: {why}")
        return self._story(rows, self._merged_ids().get(sid, []))

    def story_of(self, article_id: str) -> int:
        """The story id of an article held.

        Raises
        ------
        KeyError
            If the article is not in the index.

        Examples
        --------
        >>> index = StoryIndex()
        >>> _ = index.add([{"id": "x", "text": "Quake hits Tokyo"}])
        >>> index.story_of("x")
        0
        """
        self._sync()
        row = self._conn.execute(
            "SELECT story FROM articles WHERE id = ?", (str(article_id),)
        ).fetchone()
        if row is None:
            raise KeyError(f"not in the index: {article_id!r}")
        return int(row[0])

    def labels(self, ids: Iterable[str]) -> list[int]:
        """The story id of each article id (for evaluation against gold labels).

        Parameters
        ----------
        ids : iterable of str
            Article ids held by the index.

        Returns
        -------
        list of int
            The current story id of each, in the order given.

        Raises
        ------
        KeyError
            If an id is not in the index.

        Examples
        --------
        >>> index = StoryIndex()
        >>> _ = index.add([{"id": "x", "text": "Quake hits Tokyo"}])
        >>> index.labels(["x"])
        [0]
        """
        self._sync()
        wanted = [str(x) for x in ids]
        story: dict[str, int] = {}
        if len(wanted) > self._n_docs // 4:  # most of the index: one pass over it
            story = dict(self._conn.execute("SELECT id, story FROM articles").fetchall())
        else:
            for chunk in chunks(wanted, 500):
                marks = ",".join("?" * len(chunk))
                story.update(
                    self._conn.execute(
                        f"SELECT id, story FROM articles WHERE id IN ({marks})", chunk
                    ).fetchall()
                )
        missing = [x for x in wanted if x not in story]
        if missing:
            raise KeyError(f"not in the index: {missing[0]!r}")
        return [int(story[x]) for x in wanted]

    def events(self, *, since: int = 0) -> list[StoryEvent]:
        """Merges and splits after sequence number `since`, oldest first.

        Parameters
        ----------
        since : int, default 0
            Only events with a larger sequence number (the last one seen, to poll).

        Returns
        -------
        list of StoryEvent
            ``seq``, ``kind`` (``"merge"`` or ``"split"``), ``story_id``,
            ``other_id``, the article that caused it, its score and when.

        Examples
        --------
        >>> StoryIndex().events()
        []
        """
        self._sync()
        return [
            StoryEvent(
                seq=int(seq),
                kind=str(kind),
                story_id=int(story),
                other_id=int(other),
                article_id=str(article),
                score=float(score),
                time=datetime.fromtimestamp(at, tz=timezone.utc),
            )
            for seq, kind, story, other, article, score, at in self._conn.execute(
                "SELECT seq, kind, story, other, article, score, at FROM events "
                "WHERE seq > ? ORDER BY seq",
                (int(since),),
            )
        ]

    def save(self, path: str | os.PathLike[str] | None = None) -> str:
        """Make the index durable as one file; optionally copy it to `path`.

        Parameters
        ----------
        path : str or os.PathLike, optional
            Where to write a consistent copy (replaced atomically).

        Every :meth:`add`, :meth:`remove` and :meth:`expire` is already committed.
        Without `path`, a file-backed index folds its write-ahead log into the main
        file (and, unless it is read-only, the document frequencies kept as changes
        into their pages). With `path`, a consistent copy is written to a temporary file beside
        it and renamed into place, so a process killed while saving leaves the
        previous file (or none) at `path`, never a partial one.

        Returns
        -------
        str
            The path of the saved file.

        Raises
        ------
        storyclust.SettingsError
            An in-memory index without `path`.

        Examples
        --------
        >>> import os, tempfile
        >>> index = StoryIndex()
        >>> _ = index.add(["Quake hits Tokyo"])
        >>> target = index.save(os.path.join(tempfile.mkdtemp(), "copy.db"))
        >>> len(StoryIndex.open(target))
        1
        """
        if path is None and self._path is None:
            raise SettingsError("an in-memory index needs a path to save to: index.save('news.db')")
        if not self._readonly and self._n_deltas:
            with self._transaction():
                self._fold_df()
        if path is None:
            if not self._readonly:
                self._checkpointed()
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return str(self._path)
        target = Path(os.fspath(path)).resolve()
        fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
        os.close(fd)
        try:
            dest = sqlite3.connect(tmp, isolation_level=None)
            try:
                self._conn.backup(dest)
                dest.execute("PRAGMA journal_mode = DELETE")
            finally:
                dest.close()
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return str(target)

    # --- adding ---------------------------------------------------------------------------

    def _new_only(self, arts: Articles, *, skip: bool) -> Articles:
        """The articles whose ids the index does not hold yet; with ``skip=False``, all or an error."""
        ids = arts.ids
        held: set[str] = set()
        for chunk in chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            held.update(
                str(r[0])
                for r in self._conn.execute(f"SELECT id FROM articles WHERE id IN ({marks})", chunk)
            )
        if not held:
            return arts
        if not skip:
            pos = next(k for k, x in enumerate(ids) if x in held)
            auto = (
                " (a record without an id gets its position or line number as id: give articles "
                "added over several calls ids of their own)"
                if ids[pos].isdigit()
                else ""
            )
            raise InputError(
                f"article id {ids[pos]!r} (article {pos + 1} of {len(ids)} in this add) is "
                f"already in the index{auto}; remove it first to replace it, give it another id, "
                "or pass errors='skip' to leave out articles already held",
                field="id",
                value=ids[pos],
            )
        kept = [a for a in arts if a.id not in held]
        report = LoadReport(
            n_read=arts.report.n_read,
            n_loaded=len(kept),
            skipped=[
                *arts.report.skipped,
                *(
                    SkippedRecord(None, "id", f"article id {a.id!r} is already in the index")
                    for a in arts
                    if a.id in held
                ),
            ],
            path=arts.report.path,
        )
        return Articles(kept, report=report)

    def _prepare(self, arts: Sequence[Article], learn: bool) -> tuple[Batch, I64, list[I64]]:
        """Features of new articles, appended to memory, with their LSH candidates."""
        batch = featurize(arts, self._settings, self._boiler, learn=learn)
        self._load_period(batch.days)
        keys = band_keys(batch.sig, self._bands, self._rows_per_band)
        held = self._lsh_lookup(keys, batch.has_sh)
        # Read in the older articles they share keys with, before the new ones take slots.
        need = sorted({r for rs in held for r in rs if r not in self._pool.slot_of})
        for chunk in chunks(need, 500):
            self._load(f"row IN ({','.join('?' * len(chunk))})", tuple(chunk))
        n = len(arts)
        rows = np.arange(self._next_row, self._next_row + n, dtype=np.int64)
        slots = self._pool.append(batch, rows, np.full(n, -1, dtype=np.int64), np.zeros(n))
        return batch, slots, self._lsh_slots(held, keys, batch.has_sh, slots)

    def _add(self, arts: Articles) -> list[Assignment]:
        """Add checked articles (inside a transaction)."""
        # The neighbour search runs on another thread, a piece ahead of the assignment
        # loop. What is stored of each article whatever the assignments is packed (zlib
        # releases the GIL) and written on a third while they are made.
        with ThreadPoolExecutor(max_workers=1) as packer, ThreadPoolExecutor(1) as searcher:
            # When the search's inverted lists are due for a rebuild, those of the
            # articles held are built there while this thread makes the features.
            ahead = self._pool.postings_ahead(len(arts), searcher)
            batch, slots, lsh = self._prepare(arts, learn=True)
            return self._assign(arts, batch, slots, lsh, packer, searcher, ahead)

    def _assign(
        self,
        arts: Articles,
        batch: Batch,
        slots: I64,
        lsh: list[I64],
        writer: ThreadPoolExecutor,
        searcher: ThreadPoolExecutor,
        ahead: Ahead | None,
    ) -> list[Assignment]:
        """Assign prepared articles, one by one, then write everything (inside a transaction)."""
        pool = self._pool
        changed = self._count(batch, +1)
        ch = Changes()
        out: list[Assignment] = []
        # The IDF stays as it is until the call ends: each row's norms are computed once
        # (the TF-IDF ones on the search's thread, before it searches).
        self._norms = (np.full(pool.n, -1.0), np.full(pool.n, -1.0))
        try:
            nbrs = self._tfidf_candidates(batch, slots, worker=searcher, ahead=ahead)
            # Packing and writing wait for the search, which the loop waits for: beside it
            # they took a share of the one CPU the loop leaves free, and the loop waited
            # 0.045 ms an article for the search instead of 0.017 (at 100k held).
            searched = searcher.submit(lambda: None)
            packed = writer.submit(_after, searched, pack_rows, batch)
            # The loop never touches the database: the writer has it until the loop ends.
            # It waits there for the last checkpoint (so that the log starts over), not here.
            written = writer.submit(self._write_batch, arts, batch, slots, changed)
            try:
                self._assign_each(batch, slots, nbrs, lsh, ch, out)
            finally:
                written.result()
        finally:
            self._norms = None
        clock = self._clock
        if np.isfinite(batch.days).any():
            top_day = float(np.nanmax(batch.days))
            clock = top_day if math.isnan(clock) else max(clock, top_day)
        self._write(arts, batch, slots, clock, ch, packed.result())
        self._next_row += len(arts)
        self._clock = clock
        self._evict()
        return out

    def _assign_each(
        self,
        batch: Batch,
        slots: I64,
        nbrs: Sequence[I64],
        lsh: list[I64],
        ch: Changes,
        out: list[Assignment],
    ) -> None:
        """The assignment loop: each article in turn, seeing the stories as those before it left them."""
        s = self._settings
        pool = self._pool
        for k, aid in enumerate(batch.ids):
            slot = int(slots[k])
            cands, stories = candidate_stories(nbrs[k], lsh[k], slot, pool.alive, pool.story)
            scored = self._score_stories(slot, cands, stories, lsh[k])
            best = int(np.argmax(scored.agg)) if len(scored.agg) else -1
            best_score = float(scored.agg[best]) if best >= 0 else 0.0
            if best_score < s.threshold:
                sid = self._new_story(aid, ch)
                pool.move([slot], sid)
                out.append(Assignment(aid, sid, True, round(best_score, 6)))
                continue
            inside = np.flatnonzero(scored.owner == best)
            top = int(inside[np.argmax(scored.signals.score[0, inside])])
            link = scored.signals.link(
                0, top, aid, pool.ids[int(scored.members[top])], s.near_duplicate_threshold
            )
            story = int(scored.stories[best])
            pool.move([slot], story)
            self._add_centrality(
                np.array([slot]), scored.members[inside], scored.signals.score[:, inside], ch
            )
            n_ops = len(ch.ops)
            story = self._merge_through(slot, story, scored, best, aid, ch)
            story = self._recut(slot, story, scored, aid, ch)
            done = ch.ops[n_ops:]
            out.append(
                Assignment(
                    aid,
                    story,
                    False,
                    round(best_score, 6),
                    link,
                    merged=tuple(o.other for o in done if o.kind == "merge"),
                    split=tuple(o.other for o in done if o.kind == "split"),
                )
            )

    def _new_story(self, opened_by: str, ch: Changes) -> int:
        """A fresh story id."""
        sid = self._next_story
        self._next_story += 1
        ch.new_stories.append((sid, opened_by))
        return sid

    def _count(self, batch: Batch, sign: int) -> list[I64]:
        """Add (or take away) a batch's terms to the document frequencies; return those changed.

        One array of term ids, ascending, for each space (TF-IDF terms, names).
        """
        changed = []
        for space, idx in enumerate((batch.tf_idx, batch.nm_idx)):
            df = self._df[space]
            if len(idx) > N_TERMS // 8:  # counted in one compiled pass, then a pass over every term
                t = count_terms(idx, sign, df)
            else:  # a few articles (a query): not a pass over every term
                t, cnt = np.unique(idx, return_counts=True)
                df[t] += sign * cnt
            self._lg[space][t] = np.log1p(df[t].astype(np.float64))
            changed.append(np.asarray(t, dtype=np.int64))
        self._n_docs += sign * len(batch.ids)
        return changed

    def _signals(self, a: I64, b: I64) -> Signals:
        """Every signal between slots `a` and `b` with the current IDF."""
        if self._work is None:
            self._work = work_space(N_TERMS)
        return signals(
            self._pool, a, b, self._lg, self._n_docs, self._settings, self._norms, self._work
        )

    def _undated_floor(self) -> float:
        """Oldest date an undated article is compared with: the horizon behind the clock."""
        if math.isnan(self._clock) or not math.isfinite(self._horizon):
            return -math.inf
        return self._clock - self._horizon

    def _eligible(self, slot: int, m: I64, lsh: I64 | None) -> I64:
        """The members `m` an article is compared with: within its horizon, or LSH candidates."""
        return m[self._eligible_mask(slot, m, lsh)]

    def _eligible_mask(self, slot: int, m: I64, lsh: I64 | None) -> B1:
        """Which of the members `m` an article is compared with (see ``_eligible``).

        For a dated article: undated members, and dated ones within the horizon of
        its date. For an undated one: undated members, and dated ones within the
        horizon behind the index clock. Defined by the stored data, never by what
        happens to be in memory, so a reopened index decides alike.
        """
        ok: B1 = eligible(
            self._pool.day,
            slot,
            m,
            self._horizon,
            self._undated_floor(),
            _NONE if lsh is None else lsh,
        )
        return ok

    def _recent(self, m: I64, keep: I64) -> I64:
        """At most ``max_story_members`` of `m`: the most recent, plus `keep`."""
        if len(m) <= self._max_members:
            return m
        recent = m[np.argsort(-self._pool.row[m], kind="stable")[: self._max_members]]
        return np.union1d(recent, np.intersect1d(m, keep)).astype(np.int64)

    def _score_stories(self, slot: int, cands: I64, stories: I64, lsh: I64) -> _Scored:
        """Score `slot` against the members of `stories` (those of its candidates `cands`)."""
        pool = self._pool
        lists = [pool.members[sid] for sid in stories.tolist()]
        sizes = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64)
        members, owner, counts = story_members(
            flat, sizes, slot, pool.day, self._horizon, self._undated_floor(), lsh
        )
        if counts.max(initial=0) > self._max_members:
            parts, owners = [], []
            for o in range(len(stories)):
                m = members[owner == o]
                if len(m) > self._max_members:
                    m = self._recent(m, cands)
                parts.append(m)
                owners.append(np.full(len(m), o, dtype=np.int64))
            members, owner = np.concatenate(parts), np.concatenate(owners)
            counts = np.bincount(owner, minlength=len(stories))
        sig = self._signals(np.array([slot], dtype=np.int64), members)
        agg = linkage_by(sig.score[0], owner, counts, _LINKAGE_CODE.get(self._settings.linkage, 1))
        return _Scored(stories=stories, agg=agg, members=members, owner=owner, signals=sig)

    def _add_centrality(self, a: I64, b: I64, block: F64, ch: Changes) -> None:
        """Pairs (a, b) are now in one story: their scores count towards both sides' centrality."""
        pool = self._pool
        pool.score[a] += block.sum(axis=1)
        pool.score[b] += block.sum(axis=0)
        ch.dirty.update(a.tolist())
        ch.dirty.update(b.tolist())

    def _merge_through(
        self, slot: int, story: int, scored: _Scored, best: int, aid: str, ch: Changes
    ) -> int:
        """Merge the other stories `slot` bridges into its story; return its story then."""
        s = self._settings
        if np.count_nonzero(scored.agg >= s.threshold) < 2:  # no other story to merge
            return story
        pool = self._pool
        side = scored.members[scored.owner == best]
        for o in np.lexsort((scored.stories, -scored.agg)).tolist():
            other = int(scored.stories[o])
            if o == best or scored.agg[o] < s.threshold or other not in pool.members:
                continue
            b_idx = np.flatnonzero(scored.owner == o)
            b = scored.members[b_idx]
            if (len(side) + 1) * len(b) > _MAX_PAIRS:
                continue
            block = self._signals(side, b).score
            x_row = scored.signals.score[:, b_idx]
            link = _linkage(np.r_[block.ravel(), x_row.ravel()], s.linkage)
            if link < s.threshold:
                continue
            keep, gone = min(story, other), max(story, other)
            pool.move(pool.members.pop(gone), keep)
            self._add_centrality(np.array([slot]), b, x_row, ch)
            self._add_centrality(side, b, block, ch)
            ch.ops.append(Op("merge", keep, gone, aid, link))
            story = keep
            side = np.r_[side, b].astype(np.int64)
        return story

    def _recut(self, slot: int, story: int, scored: _Scored, aid: str, ch: Changes) -> int:
        """Re-cluster a story and its neighbours when it reaches a size in ``_SCHEDULE``.

        The neighbourhood is the story and the other stories the article linked to
        (best linked first, whole, up to ``max_story_members`` articles within the
        horizon). It is clustered by the batch stories stage (``_cut``) and the
        result applied as splits and merges (``_apply``). Returns `slot`'s story.
        """
        s = self._settings
        pool = self._pool
        own = self._eligible(slot, np.asarray(pool.members[story], dtype=np.int64), None)
        small = len(own) <= _RECUT_EVERY
        if not small and len(own) not in _SCHEDULE:
            return story
        parts = [self._recent(own, np.array([slot]))]
        size = len(parts[0])
        # A large story is re-cut alone: its neighbourhood would cost more than it gains.
        cap = _HOOD_SMALL if small else 0
        for o in np.lexsort((scored.stories, -scored.agg)).tolist():
            if scored.agg[o] < s.link_threshold:
                break
            sid = int(scored.stories[o])
            if sid == story or sid not in pool.members:
                continue
            m = self._eligible(slot, np.asarray(pool.members[sid], dtype=np.int64), None)
            if size + len(m) <= cap:
                parts.append(m)
                size += len(m)
        m = np.unique(np.concatenate(parts))
        dense = self._signals(m, m).score
        np.fill_diagonal(dense, 0.0)
        labels = _cut(dense, s)
        whole = not labels.any()
        pool.score[m] = (dense if whole else dense * (labels[:, None] == labels[None, :])).sum(
            axis=1
        )
        ch.dirty.update(m.tolist())
        if not same_partition(labels, pool.story[m]):  # else nothing moves (most re-cuts)
            self._apply(m, labels, dense, aid, ch)
        return int(pool.story[slot])

    def _apply(self, m: I64, labels: I64, dense: F64, aid: str, ch: Changes) -> None:
        """Make the stories of slots `m` follow `labels`, keeping ids where possible.

        Each story keeps its id for the cluster holding its oldest article here;
        a cluster takes the oldest id kept in it (the other stories kept in it are
        merged into that one, with all their articles), or a new id. Articles in
        another cluster than their story's move ("split" events).
        """
        pool = self._pool
        cur = pool.story[m].copy()
        rows = pool.row[m]
        keeper: dict[int, int] = {}
        for k in np.argsort(rows, kind="stable").tolist():
            keeper.setdefault(int(cur[k]), int(labels[k]))
        final: dict[int, int] = {}
        for sid, lab in sorted(keeper.items()):
            final.setdefault(lab, sid)
        for lab in np.unique(labels[np.argsort(rows, kind="stable")]).tolist():
            if lab not in final:
                first = int(m[labels == lab][np.argmin(rows[labels == lab])])
                final[lab] = self._new_story(pool.ids[first], ch)
        target = np.array([final[int(x)] for x in labels], dtype=np.int64)
        moving = target != cur
        for src, dst in sorted({(int(a), int(b)) for a, b in zip(cur[moving], target[moving])}):
            sel = moving & (cur == src) & (target == dst)
            # Its linkage with the part of its story it leaves.
            stay = (cur == src) & ~moving
            score = float(dense[np.ix_(sel, stay)].mean()) if stay.any() else 0.0
            pool.move(m[sel].tolist(), dst)
            ch.ops.append(Op("split", src, dst, aid, score, tuple(rows[sel].tolist())))
        for sid, lab in sorted(keeper.items()):
            dst = final[lab]
            if dst != sid and sid in pool.members:
                a, b = target == dst, cur == sid
                score = float(dense[np.ix_(a & b, a & ~b)].mean()) if (a & ~b).any() else 0.0
                pool.move(pool.members.pop(sid), dst)
                ch.ops.append(Op("merge", dst, sid, aid, score))

    def _tfidf_candidates(
        self,
        batch: Batch,
        slots: I64,
        *,
        stay: bool = True,
        worker: ThreadPoolExecutor | None = None,
        ahead: Ahead | None = None,
    ) -> Sequence[I64]:
        """Each new article's best TF-IDF neighbours among the earlier articles within the horizon.

        With a `worker` thread, the search runs there in pieces while the caller
        reads the results in order (waiting for a piece not done yet), so that the
        assignment loop runs beside it; the results are the same. `ahead`: inverted
        lists being built (see ``Pool.postings``).
        """
        n = len(slots)
        if len(batch.tf_idx) == 0:
            return [np.zeros(0, dtype=np.int64) for _ in range(n)]
        if worker is None:
            return self._neighbour_search(
                self._neighbour_query(batch, slots, stay, ahead)[0], 0, n, 0
            )
        # The query is prepared here: on the worker its few dozen numpy calls would each
        # wait for the GIL the loop holds, and the loop waits for the first piece.
        query, norms = self._neighbour_query(batch, slots, stay, ahead, worker)
        pieces = [(lo, min(n, lo + step)) for lo, step in _pieces(n)]
        return _InOrder(
            [(lo, worker.submit(self._neighbour_search, query, lo, hi, 1)) for lo, hi in pieces],
            n,
            first=norms,
        )

    def _neighbour_query(
        self,
        batch: Batch,
        slots: I64,
        stay: bool,
        ahead: Ahead | None = None,
        worker: ThreadPoolExecutor | None = None,
    ) -> tuple[dict[str, Any], Future[None] | None]:
        """Everything the neighbour search of new articles needs, but the search (see ``neighbours``).

        The search reaches most rows, so their norms are computed first: with a
        `worker` (the search's thread) there, while this thread prepares the query
        (returned beside the query: done before any search on that thread starts);
        else here on every CPU, unless a few queries reach a few rows.
        """
        s = self._settings
        pool = self._pool
        n = len(slots)
        lg = self._lg[0]
        c = math.log1p(self._n_docs) + 1.0
        rows = (pool.tf_lo, pool.tf_hi, pool.tf.idx, pool.tf.val)
        norms = self._norms[0] if self._norms is not None else np.full(pool.n, -1.0)
        ready = worker is not None or n * 64 >= pool.n
        pending = None
        if worker is not None:
            pending = worker.submit(live_row_norms, rows, pool.n, lg, c, pool.alive, norms)
        elif ready:
            live_row_norms(rows, pool.n, lg, c, pool.alive, norms, available_cpus())
        # A queried article leaves again: keep it out of the cached inverted lists.
        main, recent, counts, scan_from = pool.postings(n, pool.n if stay else int(slots[0]), ahead)
        # Query weight of term t: its normalised TF-IDF times IDF (the stored rows carry TF
        # only). Hub terms (in more than _MAX_POSTINGS articles held) are not searched: their
        # lists would cost more than all the others, for the least IDF.
        w, qw, hub, norm = query_weights(
            batch.tf_ptr, batch.tf_idx, batch.tf_cnt, lg, c, main[0], counts, _MAX_POSTINGS
        )
        keep = top_per_row(batch.tf_ptr, np.where(hub, -1.0, qw), _QUERY_TERMS)
        keep = keep[~hub[keep]]
        # Batch keeps neighbours with cosine >= link_threshold. An article searched with
        # only some of its terms scores less, in about the share of its squared weight
        # those terms carry: its cut is lowered by that share (exact for short texts).
        kept, q_ptr = query_rows(keep, batch.tf_ptr, w, norm)
        query = {
            "queries": (q_ptr, batch.tf_idx[keep], qw[keep]),
            "q_day": pool.day[slots],
            "q_limit": slots,
            "main": main,
            "tail": recent,
            "upto": scan_from,
            "rows": rows,
            "n": pool.n,
            "lg": lg,
            "c": c,
            "alive": pool.alive,
            "day": pool.day,
            "row": pool.row,
            "horizon": self._horizon,
            "floor": self._undated_floor(),
            "cut": s.link_threshold * kept,
            "k": s.max_neighbors,
            "norms": norms,
            "norms_ready": ready,
        }
        return query, pending

    @staticmethod
    def _neighbour_search(query: dict[str, Any], lo: int, hi: int, threads: int) -> list[I64]:
        """The neighbours of the new articles lo..hi-1 (slots, best first); 0 threads: every CPU."""
        found = neighbours(**query, span=(lo, hi), n_threads=threads or available_cpus())
        return [r[r >= 0] for r in found[lo:hi]]

    def _lsh_lookup(self, keys: U64, has_sh: B1) -> list[list[int]]:
        """Rows held that share a band key with each new article (the most recent ``_MAX_LSH``)."""
        out: list[list[int]] = [[] for _ in range(len(keys))]
        if self._n_docs == 0 or not has_sh.any():
            return out
        probes = bucket_keys(keys)
        probes[~has_sh] = 0
        pos, rows = self._runs.lookup(probes.ravel())
        ok = has_sh[pos // keys.shape[1]]
        art, rows = pos[ok] // keys.shape[1], rows[ok]
        at = distinct_pairs(art, rows)  # each (article, row) once
        art, rows = art[at], rows[at]
        bounds = np.searchsorted(art, np.arange(len(keys) + 1))
        for p in np.flatnonzero(np.diff(bounds)).tolist():
            out[p] = rows[max(bounds[p], bounds[p + 1] - _MAX_LSH) : bounds[p + 1]].tolist()
        return out

    def _lsh_slots(self, held: list[list[int]], keys: U64, has_sh: B1, slots: I64) -> list[I64]:
        """LSH candidates as slots: held articles (in memory by now) and earlier new ones."""
        if not held:
            return []
        slot_of = self._pool.slot_of
        pairs = band_candidates(keys, valid=has_sh).reshape(-1, 2)
        art = np.r_[np.repeat(np.arange(len(held)), [len(rs) for rs in held]), pairs[:, 1]]
        found = np.r_[
            np.array([slot_of[r] for rs in held for r in rs], dtype=np.int64), slots[pairs[:, 0]]
        ].astype(np.int64)
        at = distinct_pairs(art, found)  # each (article, slot) once
        return np.split(found[at], np.searchsorted(art[at], np.arange(1, len(held))))

    def _load_period(self, days: F64) -> None:
        """Read in the articles of a late article's period (older than memory holds)."""
        if not math.isfinite(self._floor) or not np.isfinite(days).any():
            return
        lo = float(np.nanmin(days)) - self._horizon
        if lo < self._floor:
            self._load("day >= ? AND day < ?", (lo, self._floor))
            self._floor = lo

    def _evict(self) -> None:
        """Drop from memory the dated articles beyond the horizon behind the newest date."""
        if math.isnan(self._clock) or not math.isfinite(self._horizon):
            return
        cut = self._clock - self._horizon
        pool = self._pool
        if cut > self._floor + self._horizon / 4:
            day = pool.day[: pool.n]
            pool.drop(np.flatnonzero(pool.alive[: pool.n] & (day < cut)).tolist())
            self._floor = cut
        if pool.n_dead > max(1024, pool.n // 3):
            pool.compact()

    # --- query, remove --------------------------------------------------------------------

    def _query(self, article: Article, k: int) -> list[StoryMatch]:
        """Score one article against the stories without keeping anything."""
        pool = self._pool
        batch, slots, lsh = self._prepare([article], learn=False)
        slot = int(slots[0])  # older articles read in for it stay; only it is forgotten
        try:
            self._count(batch, +1)
            try:
                nbrs = self._tfidf_candidates(batch, slots, stay=False)
                cands, stories = candidate_stories(nbrs[0], lsh[0], slot, pool.alive, pool.story)
                scored = self._score_stories(slot, cands, stories, lsh[0])
            finally:
                self._count(batch, -1)
        finally:
            pool.truncate(slot)
        out = []
        near = self._settings.near_duplicate_threshold
        for o in np.lexsort((scored.stories, -scored.agg)).tolist()[:k]:
            inside = np.flatnonzero(scored.owner == o)
            top = int(inside[np.argmax(scored.signals.score[0, inside])])
            link = scored.signals.link(0, top, article.id, pool.ids[int(scored.members[top])], near)
            out.append(
                StoryMatch(
                    int(scored.stories[o]), round(float(scored.agg[o]), 6), len(inside), link
                )
            )
        return out

    def _remove_rows(self, rows: list[int]) -> None:
        """Delete articles (inside a transaction): frequencies, keys, centrality, rows."""
        c = self._conn
        pool = self._pool
        for chunk in chunks(sorted(rows), 500):
            self._load(f"row IN ({','.join('?' * len(chunk))})", tuple(chunk))
        gone = np.array([pool.slot_of[r] for r in rows], dtype=np.int64)
        going = set(gone.tolist())
        dirty: set[int] = set()
        # Take each removed article's scores out of its story mates' centrality.
        for slot in gone.tolist():
            mates = np.array(
                [m for m in pool.members.get(int(pool.story[slot]), []) if m not in going],
                dtype=np.int64,
            )
            if len(mates):
                sc = self._signals(np.array([slot]), mates).score[0]
                pool.score[mates] = np.maximum(pool.score[mates] - sc, 0.0)
                dirty.update(mates.tolist())
        changed = [_NONE, _NONE]
        for space, (lo, hi, flat) in enumerate(
            ((pool.tf_lo, pool.tf_hi, pool.tf), (pool.nm_lo, pool.nm_hi, pool.nm))
        ):
            parts = [flat.idx[lo[g] : hi[g]] for g in gone.tolist()]
            if parts:
                t, cnt = np.unique(np.concatenate(parts), return_counts=True)
                self._df[space][t] -= cnt
                self._lg[space][t] = np.log1p(np.maximum(self._df[space][t], 0).astype(np.float64))
                changed[space] = t.astype(np.int64)
        self._drop_from_runs(np.array(rows, dtype=np.int64))
        c.executemany("DELETE FROM articles WHERE row = ?", [(r,) for r in rows])
        c.executemany("DELETE FROM centrality WHERE row = ?", [(r,) for r in rows])
        pool.drop(gone.tolist())
        c.executemany(
            "INSERT OR REPLACE INTO centrality (row, score) VALUES (?, ?)",
            [(int(pool.row[d]), float(pool.score[d])) for d in sorted(dirty) if pool.alive[d]],
        )
        self._write_df(changed)
        self._n_docs -= len(rows)
        self._put_meta({"n_docs": self._n_docs})
        if pool.n_dead > max(1024, pool.n // 3):
            pool.compact()

    # --- stories --------------------------------------------------------------------------

    def _merged_ids(self) -> dict[int, list[int]]:
        """For each story, the stories merged into it (directly or through others)."""
        parent = {
            int(a): int(b)
            for a, b in self._conn.execute(
                "SELECT id, merged_into FROM stories WHERE merged_into IS NOT NULL"
            )
        }
        out: dict[int, list[int]] = {}
        for a in parent:
            root = a
            for _ in range(len(parent) + 1):
                if root not in parent:
                    break
                root = parent[root]
            out.setdefault(root, []).append(a)
        return {k: sorted(v) for k, v in out.items()}

    def _resolve(self, sid: int) -> int:
        """The story that `sid` was merged into, if any (else `sid`)."""
        for _ in range(1_000_000):
            row = self._conn.execute(
                "SELECT merged_into FROM stories WHERE id = ?", (sid,)
            ).fetchone()
            if row is None or row[0] is None:
                return sid
            sid = int(row[0])
        raise InputError("damaged index: a cycle of merged stories", path=self._path)

    def _story(self, rows: list[Any], merged: list[int]) -> Story:
        """One story from its rows (columns as in ``_STORY_COLUMNS``)."""
        policy = self._settings.representative
        days = [math.inf if r[6] is None else float(r[6]) for r in rows]
        first = [0] * len(rows)
        if isinstance(policy, tuple):
            rank = {src: k for k, src in enumerate(policy)}
            first = [rank.get(str(r[5]), len(policy)) for r in rows]
        if policy == "earliest":
            primary = days
        elif policy == "longest":
            primary = [-float(r[8]) for r in rows]
        else:
            primary = [-float(r[9]) for r in rows]
        rep = rows[
            min(range(len(rows)), key=lambda k: (first[k], primary[k], days[k], int(rows[k][1])))
        ]
        dated = [float(x[6]) for x in rows if x[6] is not None]
        n = len(rows)
        return Story(
            story_id=int(rep[0]),
            size=len(rows),
            representative_id=str(rep[2]),
            title=str(rep[3]) or title_from_text(str(rep[4])),
            outlets=sorted({str(x[5]) for x in rows if x[5]}),
            first_seen=_from_day(min(dated)) if dated else None,
            last_seen=_from_day(max(dated)) if dated else None,
            keywords=self._keywords(rows),
            # score_sum counts each pair the index scored once from each side.
            cohesion=1.0 if n < 2 else sum(float(x[9]) for x in rows) / (n * (n - 1)),
            article_ids=[str(x[2]) for x in rows],
            n_reports=self._n_reports(rows),
            merged_ids=merged,
        )

    def _n_reports(self, rows: list[Any]) -> int:
        """Distinct texts of a story: near-duplicates (by their stored signatures) count once."""
        p = self._settings.num_perm
        sh = np.array([bool(r[10]) for r in rows], dtype=np.bool_)
        if sh.sum() < 2:
            return len(rows)
        sig = np.stack([stored_array(r[11], "<u4", p, self._path, "signature") for r in rows])
        m = len(rows)
        near = np.zeros((m, m), dtype=np.bool_)
        for r in range(0, m, 64):  # blocks bound the (rows, m, num_perm) comparison
            jac = (sig[r : r + 64, None, :] == sig[None, :, :]).mean(axis=2)
            near[r : r + 64] = jac >= self._settings.near_duplicate_threshold
        near &= sh[:, None] & sh[None, :]
        return len(set(components(near).tolist()))

    def _keywords(self, rows: list[Any]) -> list[str]:
        """Content words of the story's titles (or text starts), frequent in it and rare overall."""
        k = self._settings.n_keywords
        counts: Counter[str] = Counter()
        for r in rows:
            words = str(r[7]).split() or [w for w in tokenize(str(r[4])) if w not in STOP_WORDS]
            counts.update(set(words))
        if k == 0 or not counts:
            return []
        words = sorted(counts)
        lg = self._lg[0][term_ids(hash_strings(words))]
        c = math.log1p(self._n_docs) + 1.0
        weight = {w: counts[w] * (c - g) for w, g in zip(words, lg.tolist())}
        return sorted(words, key=lambda w: (-weight[w], w))[:k]


# --- helpers ----------------------------------------------------------------------------------


def _schedule() -> frozenset[int]:
    """Story sizes at which a story is re-cut: 2 to 8, then every ~25% growth."""
    sizes = set(range(2, 9))
    x = 8.0
    while x < 1e7:
        x *= 1.25
        sizes.add(round(x))
    return frozenset(sizes)


_SCHEDULE: Final = _schedule()


def _cut(dense: F64, s: Settings) -> I64:
    """The batch stories stage (:func:`storyclust.stories.group_links`) on a dense score matrix.

    Articles are grouped by links (scores >= ``link_threshold``); inside each
    group every pair keeps its score, between groups it is 0, and the dendrogram
    of ``linkage`` is cut at ``threshold``. Equal to ``group_links`` with these
    scores as its `similarity` (tested), without its per-call overhead.
    Returns labels 0..k-1 by first appearance.
    """
    m = len(dense)
    if m < 2:
        return np.zeros(m, dtype=np.int64)
    y, low = cut_distances(dense, s.link_threshold)
    if low >= s.threshold:  # every linkage keeps such a group whole
        return np.zeros(m, dtype=np.int64)
    z = _linkage_matrix(y, m, s.linkage)
    labels: I64 = cut_labels(z, m, 1.0 - s.threshold + 1e-12)
    return labels


def _linkage_matrix(y: F64, m: int, method: str) -> F64:
    """``scipy.cluster.hierarchy.linkage(y, method)`` of a condensed, finite distance matrix.

    The compiled routine linkage itself calls, without its checks and array-API
    dispatch (most of its cost on the small matrices of a re-cut); linkage
    itself if scipy no longer has it.
    """
    z: F64
    if method == "single" and _SCIPY_METHODS:
        z = _scipy_hierarchy.mst_single_linkage(y, m)
    elif method in ("average", "complete") and method in _SCIPY_METHODS:
        z = _scipy_hierarchy.nn_chain(y, m, _SCIPY_METHODS[method])
    else:
        z = linkage(y, method=method)
    return z


def _linkage(scores: F64, method: str) -> float:
    """An article's (or a group's) scores with a story's members, combined as the linkage says."""
    if not scores.size:
        return 0.0
    if method == "single":
        return float(scores.max())
    if method == "complete":
        return float(scores.min())
    return float(scores.mean())


def _pieces(n: int) -> list[tuple[int, int]]:
    """(start, size) of the pieces a background search of `n` articles runs in: small ones first."""
    out, lo, step = [], 0, 16
    while lo < n:
        out.append((lo, step))
        lo += step
        step = min(2 * step, 256)
    return out


class _InOrder(Sequence[I64]):
    """Results computed in pieces on another thread: reading one waits for its piece.

    `first`: work the pieces follow on that thread; the first read raises its error.
    """

    def __init__(
        self, pieces: list[tuple[int, Future[list[I64]]]], n: int, first: Future[Any] | None = None
    ) -> None:
        self._starts = [lo for lo, _ in pieces]
        self._futures = [f for _, f in pieces]
        self._n = n
        self._first = first

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, k: Any) -> Any:
        if self._first is not None:
            self._first.result()
            self._first = None
        p = bisect.bisect_right(self._starts, k) - 1
        return self._futures[p].result()[k - self._starts[p]]


def _after(first: Future[Any], fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, once `first` is done (its error, if any, raised instead)."""
    first.result()
    return fn(*args)


def _from_day(day: float) -> datetime:
    """Days since the epoch as a UTC datetime."""
    return datetime.fromtimestamp(day * 86400.0, tz=timezone.utc)


def _as_datetime(value: Any, name: str) -> datetime:
    """A time given as datetime, date, ISO string or POSIX seconds, in UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    published = None
    if not isinstance(value, bool):
        with contextlib.suppress(InputError):
            published = to_articles([{"id": "t", "title": "t", "published": value}])[0].published
    if published is None:
        raise SettingsError(
            f"{name} must be a datetime, a date, an ISO 8601 string or POSIX seconds; got {value!r}"
        )
    return published
