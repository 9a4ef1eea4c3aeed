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

import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterable
from datetime import date, datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from ._index_assign import Assigner
from ._index_records import Assignment, StoryEvent, StoryMatch
from ._index_store import ARTICLES, DEFAULT_MAX_MEMBERS, FORMAT_VERSION, chunks
from ._index_stories import STORY_COLUMNS, merged_ids, resolve, story_from_rows
from .articles import Articles, LoadReport, SkippedRecord, to_articles
from .errors import InputError, InputTypeError, SettingsError
from .io import check_writable, create_temp
from .result import Story
from .settings import Settings

__all__ = [
    "FORMAT_VERSION",
    "Assignment",
    "IndexStory",
    "StoryEvent",
    "StoryIndex",
    "StoryMatch",
]

# The records are defined beside, and belong here (as httpx names its package as the
# module of what it re-exports): help(), repr and their doctests see them as ours.
for _record in (Assignment, StoryMatch, StoryEvent):
    _record.__module__ = __name__

# A story held by the index is the batch story table's row type (Story), filled
# from what the index stores; the old name stays for code that imports it.
IndexStory = Story

#: Settings of :func:`storyclust.cluster` that a StoryIndex refuses (it does not re-cut).
_CLUSTER_ONLY = ("recut_size", "recut_threshold", "recut_cohesion", "recut_archive")


# --- the index --------------------------------------------------------------------------------


class StoryIndex(Assigner):
    """Assign a stream of articles to stories, persisted in SQLite.

    Parameters
    ----------
    path : str, os.PathLike or None, default None
        The index file; created if missing. None keeps the index in memory
        (SQLite ``:memory:``); :meth:`save` can copy it to a file.
    readonly : bool, default False
        Open an existing file for reading only (:meth:`query`, :meth:`stories`,
        :meth:`get`, ...) while other processes may write to it.
    max_story_members : int, optional
        Most members of one story an article is scored against (the most recent
        ones): bounds the cost of very large stories. Stored with the index like
        the settings: a new index stores the value given (100 by default), an
        existing one uses its stored value unless given another, which it then
        stores (a read-only index uses it for itself).
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
        ``representative`` cannot be stored and is refused, and so are the
        settings of the undated re-cut (``recut_size``, ``recut_threshold``,
        ``recut_cohesion``, ``recut_archive``): it needs each story whole, so the index stores
        ``recut_size=0``.

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
        max_story_members: int | None = None,
        **settings: Any,
    ) -> None:
        if max_story_members is not None and (
            isinstance(max_story_members, bool)
            or not isinstance(max_story_members, int)
            or max_story_members < 2
        ):
            raise SettingsError(
                f"max_story_members must be an integer >= 2; got {max_story_members!r}"
            )
        # Any value, not only a true one (recut_cohesion=0 is a re-cut setting too); an
        # explicit recut_size=0 says what the index does anyway.
        recut = [
            k
            for k in _CLUSTER_ONLY
            if k in settings and not (k == "recut_size" and settings[k] == 0)
        ]
        if recut:
            k = recut[0]
            raise SettingsError(
                f"{k}={settings[k]!r} is a setting of storyclust.cluster only: a StoryIndex does "
                "not re-cut undated stories by local word rarity; leave it out"
            )
        # Stored as off, so that the index's settings say what it does.
        given = Settings.from_kwargs(**{**settings, "recut_size": 0})
        if callable(given.representative):
            raise SettingsError(
                "a StoryIndex cannot store a callable representative; use 'central', "
                "'earliest', 'longest' or a list of outlets in order of preference"
            )
        self._given_max = max_story_members
        self._max_members = DEFAULT_MAX_MEMBERS if max_story_members is None else max_story_members
        self._overrides: dict[str, Any] = {}
        self._last_report = LoadReport()
        self._path = None if path is None else os.fspath(path)
        if self._path == ":memory:":  # SQLite's name for no file: an in-memory index
            self._path = None
        elif self._path is not None and not self._path.strip():
            raise SettingsError(
                "path is empty: give a file name, or None (the default) for an in-memory index"
            )
        self._readonly = readonly
        if readonly and self._path is None:
            raise SettingsError("readonly=True needs a path: an in-memory index starts empty")
        if readonly and self._path is not None and not Path(self._path).exists():
            raise FileNotFoundError(f"no index at {self._path!r}; StoryIndex(path) creates one")
        self._conn = self._connect()
        self._checkpointer = None
        self._checkpointing = None
        self._log_frames = 0
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
            f"SELECT {STORY_COLUMNS} FROM {ARTICLES} ORDER BY story, row"
        ).fetchall()
        merged = merged_ids(self._conn)
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
        TypeError
            If `story_id` is not an integer (1.7 or True are not story ids).

        Examples
        --------
        >>> index = StoryIndex()
        >>> _ = index.add(["Quake hits Tokyo"])
        >>> index.get(0).size
        1
        """
        self._sync()
        if isinstance(story_id, bool) or not isinstance(story_id, (int, np.integer)):
            raise TypeError(
                f"story_id must be an integer (Story.story_id); got {type(story_id).__name__} "
                f"{story_id!r}"
            )
        if not -(2**63) <= int(story_id) < 2**63:
            raise KeyError(f"story {story_id}: no such story")
        sid = resolve(self._conn, int(story_id), self._path)
        rows = self._conn.execute(
            f"SELECT {STORY_COLUMNS} FROM {ARTICLES} WHERE story = ? ORDER BY row", (sid,)
        ).fetchall()
        if not rows:
            known = self._conn.execute("SELECT 1 FROM stories WHERE id = ?", (sid,)).fetchone()
            why = "all its articles were removed or expired" if known else "no such story"
            raise KeyError(f"story {story_id}: {why}")
        return self._story(rows, merged_ids(self._conn).get(sid, []))

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
        check_writable(path)  # a missing folder named before any work, not a temp file's name
        target = Path(os.fspath(path)).resolve()
        tmp, fd = create_temp(str(target.parent), target.name)  # 0o666 less the umask
        os.close(fd)
        try:
            dest = sqlite3.connect(tmp, isolation_level=None)
            try:
                self._conn.backup(dest)
                dest.execute("PRAGMA journal_mode = DELETE")
            finally:
                dest.close()
            with contextlib.suppress(FileNotFoundError):  # a replaced file keeps its mode
                os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return str(target)

    # --- adding, removing -----------------------------------------------------------------

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
        none = np.zeros(0, dtype=np.int64)
        changed = [none, none]
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

    def _story(self, rows: list[Any], merged: list[int]) -> Story:
        """One story from its rows (see ``story_from_rows``), under the frequencies held now."""
        return story_from_rows(rows, merged, self._settings, self._lg[0], self._n_docs, self._path)


# --- helpers ----------------------------------------------------------------------------------


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
