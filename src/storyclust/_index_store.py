"""The file of a StoryIndex, and the working state read from it.

Private to :mod:`storyclust.index`, whose documentation ("Storage and safety")
says what is stored and how it is kept safe. :class:`IndexStore` is the layer of
:class:`storyclust.StoryIndex` that owns the SQLite connection: the schema and
the checks made on opening, the stored settings, reading the working state
(document frequencies, LSH runs, the articles within the horizon), the write
transaction and its checkpoint, and what an add() call writes (articles,
stories, events, LSH runs, document frequencies).
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ._index_state import (
    N_TERMS,
    STOP_DIGEST,
    TERM_BITS,
    Batch,
    LshRuns,
    Packed,
    Pool,
    decode_terms,
    stack,
)
from .articles import Articles
from .errors import InputError, SettingsError
from .result import source_commit
from .settings import Settings
from .similarity import band_keys

__all__ = [
    "ARTICLES",
    "FORMAT_VERSION",
    "SCORE",
    "Changes",
    "IndexStore",
    "Op",
    "chunks",
    "stored_array",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U64 = npt.NDArray[np.uint64]
B1 = npt.NDArray[np.bool_]

FORMAT_VERSION: Final = 3
"""Version of the file layout this storyclust reads and writes."""

_APPLICATION_ID: Final = 0x53434958  # "SCIX" in the SQLite header
_PAGE: Final = 128  # document frequencies per stored page
_MAX_LOG_FRAMES: Final = 8192  # pages (64 MB) the write-ahead log may reach unfolded
# Changed document frequencies kept as deltas (8 bytes each) before they are folded into
# their pages: a batch of 1,000 articles changes about 80,000 of them on 11,000 pages.
_MAX_DF_DELTAS: Final = 1 << 21
# Settings that shape what is stored: fixed when the index is created.
_FIXED: Final = (
    "title_weight",
    "lead_weight",
    "lead_words",
    "shingle_size",
    "num_perm",
    "seed",
    "near_duplicate_threshold",
    "lsh_min_recall",
)

_LAYOUT: Final = {
    "tf": "zlib of (<u4 term-id gaps, then <u2 counts)",
    "names": "zlib of (<u4 term-id gaps, then <u2 counts)",
    "signature": "<u4",
    "df_pages": "<i4",
    "lsh_runs": "<u8 band key ^ (band + 1) * 0x9E3779B97F4A7C15, ascending; <i8 rows",
    "df_page_size": _PAGE,
    "df_deltas": "<i4 term ids, <i4 their counts; over df_pages, in seq order",
    "centrality": "score_sum since the article was added, over articles.score_sum",
}
# What format 2 files hold: format 3 adds the tables below (created when one is opened).
_LAYOUT_2: Final = {k: v for k, v in _LAYOUT.items() if k not in ("df_deltas", "centrality")}
_SCHEMA_3: Final = (
    """CREATE TABLE df_deltas (
        seq INTEGER PRIMARY KEY, space INTEGER NOT NULL, terms BLOB NOT NULL,
        counts BLOB NOT NULL
    )""",
    # An article's row is 2 kB: an update of its centrality alone rewrites a small row here.
    "CREATE TABLE centrality (row INTEGER PRIMARY KEY, score REAL NOT NULL)",
)

_SCHEMA: Final = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE articles (
        row INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        story INTEGER NOT NULL,
        day REAL,
        added REAL NOT NULL,
        title TEXT NOT NULL,
        source TEXT NOT NULL,
        url TEXT,
        published TEXT,
        snippet TEXT NOT NULL,
        title_words TEXT NOT NULL,
        n_tokens INTEGER NOT NULL,
        has_shingles INTEGER NOT NULL,
        score_sum REAL NOT NULL,
        tf BLOB NOT NULL,
        names BLOB NOT NULL,
        signature BLOB NOT NULL
    )""",
    "CREATE INDEX articles_story ON articles (story)",
    "CREATE INDEX articles_day ON articles (day)",
    "CREATE INDEX articles_added ON articles (added)",
    """CREATE TABLE lsh_runs (
        first_row INTEGER PRIMARY KEY, last_row INTEGER NOT NULL, n INTEGER NOT NULL,
        keys BLOB NOT NULL, rows BLOB NOT NULL
    )""",
    "CREATE TABLE stories (id INTEGER PRIMARY KEY, opened_by TEXT NOT NULL, merged_into INTEGER)",
    """CREATE TABLE events (
        seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, story INTEGER NOT NULL,
        other INTEGER NOT NULL, article TEXT NOT NULL, score REAL NOT NULL, at REAL NOT NULL
    )""",
    """CREATE TABLE df_pages (
        space INTEGER NOT NULL, page INTEGER NOT NULL, counts BLOB NOT NULL,
        PRIMARY KEY (space, page)
    ) WITHOUT ROWID""",
    "CREATE TABLE boilerplate (hash INTEGER PRIMARY KEY, line TEXT NOT NULL)",
    *_SCHEMA_3,
)

SCORE: Final = "coalesce(centrality.score, score_sum)"
_ROW_COLUMNS: Final = (
    f"row, id, story, day, title_words, has_shingles, {SCORE}, tf, names, signature, n_tokens"
)
ARTICLES: Final = "articles LEFT JOIN centrality USING (row)"


@dataclass(frozen=True)
class Op:
    """A merge or split made while adding, to be written and logged in order."""

    kind: str
    story: int
    other: int
    article: str
    score: float
    rows: tuple[int, ...] = ()


@dataclass
class Changes:
    """What one add() call changed, to be written in its transaction."""

    new_stories: list[tuple[int, str]] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    dirty: set[int] = field(default_factory=set)


class IndexStore:
    """The SQLite file of a :class:`~storyclust.StoryIndex`, and the state read from it.

    A base class of StoryIndex, not functions over a connection: its methods
    share most of the index's state (the connection, the articles in memory, the
    frequencies, the LSH runs, the clock) and call each other. The attributes
    are set by ``StoryIndex.__init__`` and :meth:`_reload`.
    """

    _path: str | None
    _readonly: bool
    _given_max: int | None  # max_story_members given when opened
    _max_members: int
    _overrides: dict[str, Any]  # changed settings a read-only handle keeps for itself
    _conn: sqlite3.Connection
    _settings: Settings
    _checkpointer: ThreadPoolExecutor | None
    _checkpointing: Future[int] | None
    _log_frames: int  # pages in the write-ahead log at the last checkpoint
    # Read from the file by _reload:
    _generation: int
    _n_docs: int
    _next_row: int
    _next_story: int
    _clock: float  # the index clock: the newest publication day added (nan before any)
    _bands: int
    _rows_per_band: int
    _horizon: float
    _norms: tuple[F64, F64] | None  # row norms under the IDF of an add() call
    _work: tuple[Any, Any] | None  # pair_scores' working space (zeros)
    _df: tuple[I64, I64]  # document frequencies (TF-IDF terms, names)
    _lg: tuple[F64, F64]  # their logarithms, log1p(df)
    _unfolded: B1  # (space, page): frequencies stored as deltas over that page
    _n_deltas: int
    _boiler: frozenset[str]
    _runs: LshRuns
    _pool: Pool
    _floor: float  # memory holds every article dated from this day on

    # --- opening --------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """The SQLite connection, with the pragmas the index relies on."""
        if self._path is not None and not Path(self._path).parent.is_dir():
            raise InputError(
                f"the folder {str(Path(self._path).parent)!r} does not exist: create it, or give a "
                "path in an existing folder",
                path=self._path,
            )
        try:
            if self._path is None:
                conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            elif self._readonly:
                uri = Path(self._path).resolve().as_uri() + "?mode=ro"
                conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=60.0)
            else:
                # An add() writes on a worker thread while the main one assigns (never both at once).
                conn = sqlite3.connect(
                    self._path, isolation_level=None, timeout=60.0, check_same_thread=False
                )
            conn.execute("PRAGMA trusted_schema = OFF")
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA cache_size = -65536")
            if self._path is not None and not self._readonly:
                # Rows of about 2 kB fill 8 kB pages well; a no-op on an existing file,
                # and it must come before WAL mode.
                conn.execute("PRAGMA page_size = 8192")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                # The log is folded into the file after each write, on another thread
                # (_checkpoint_later), not by the commit that fills it.
                conn.execute("PRAGMA wal_autocheckpoint = 0")
        except sqlite3.DatabaseError as exc:
            raise InputError(f"not a storyclust index ({exc})", path=self._path) from None
        return conn

    def _is_empty(self) -> bool:
        """True for a database without any table."""
        try:
            row = self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"not a storyclust index ({exc})", path=self._path) from None
        return int(row[0]) == 0

    def _create(self, settings: Settings) -> None:
        """Write the schema and the metadata of a new index."""
        from . import __version__

        bands, rows = settings.lsh_bands_rows
        meta = {
            "format_version": FORMAT_VERSION,
            "library_version": __version__,
            "library_commit": source_commit(),
            "created": time.time(),
            "settings": settings.to_dict(),
            "hash_scheme": _hash_scheme(settings, bands, rows),
            "layout": _LAYOUT,
            "n_docs": 0,
            "next_row": 0,
            "next_story": 0,
            "clock": None,
            "generation": 0,
            "max_story_members": self._max_members,
        }
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            for stmt in _SCHEMA:
                c.execute(stmt)
            c.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in meta.items()],
            )
            c.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def _check_file(self) -> None:
        """Refuse files that are not storyclust indexes, or not safe to open."""
        c = self._conn
        try:
            app = int(c.execute("PRAGMA application_id").fetchone()[0])
            objects = c.execute("SELECT type, name FROM sqlite_master").fetchall()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"not a storyclust index ({exc})", path=self._path) from None
        if app != _APPLICATION_ID:
            raise InputError(
                "not a storyclust index (an SQLite file without the storyclust application id)",
                path=self._path,
            )
        bad = sorted(f"{t} {n!r}" for t, n in objects if t in ("trigger", "view"))
        if bad:
            raise InputError(
                f"refusing to open an index holding {', '.join(bad)}: storyclust never creates "
                "triggers or views, so the file was altered",
                path=self._path,
            )
        meta = self._meta()
        fmt = meta.get("format_version")
        if not isinstance(fmt, int) or fmt > FORMAT_VERSION:
            from . import __version__

            raise SettingsError(
                f"index format {fmt} is newer than this storyclust ({__version__}) reads "
                f"(format {FORMAT_VERSION}); upgrade storyclust to open it"
            )
        if fmt == 2 and meta.get("layout") == _LAYOUT_2:
            self._upgrade_from_2()
        elif fmt < FORMAT_VERSION:
            raise SettingsError(
                f"index format {fmt} is older than this storyclust reads ({FORMAT_VERSION}: LSH "
                "buckets as sorted runs); rebuild the index from its articles"
            )
        if self._meta().get("layout") != _LAYOUT:
            raise SettingsError(
                f"the index stores its arrays as {meta.get('layout')}; this storyclust reads "
                f"{_LAYOUT}; rebuild the index with this storyclust"
            )

    def _upgrade_from_2(self) -> None:
        """Make a format 2 file format 3: it gains two tables, empty, and keeps its meaning."""
        if self._readonly:
            raise SettingsError(
                f"index format 2 is upgraded to format {FORMAT_VERSION} when it is opened for "
                "writing (in a moment, whatever its size); open it once without readonly=True"
            )
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            for stmt in _SCHEMA_3:
                c.execute(stmt)
            self._put_meta({"format_version": FORMAT_VERSION, "layout": _LAYOUT})
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def _meta(self) -> dict[str, Any]:
        """The metadata table, JSON-decoded."""
        try:
            return {
                str(k): json.loads(v) for k, v in self._conn.execute("SELECT key, value FROM meta")
            }
        except (sqlite3.DatabaseError, json.JSONDecodeError, TypeError) as exc:
            raise InputError(f"damaged index metadata ({exc})", path=self._path) from None

    def _apply_settings(self, given: dict[str, Any]) -> Settings:
        """The stored settings, with the changeable ones given here applied (and stored)."""
        meta = self._meta()
        stored = _settings_from_dict(meta.get("settings"), self._path)
        scheme = meta.get("hash_scheme")
        lsh = scheme.get("lsh", {}) if isinstance(scheme, dict) else {}
        expected = _hash_scheme(stored, lsh.get("bands"), lsh.get("rows"))
        if scheme != expected:
            have = scheme if isinstance(scheme, dict) else {}
            parts = [
                f"{k}: index has {have.get(k)!r}, this storyclust uses {expected.get(k)!r}"
                for k in sorted(set(expected) | set(have))
                if expected.get(k) != have.get(k)
            ]
            raise SettingsError(
                "the index was built with another hash scheme ("
                + "; ".join(parts)
                + "); rebuild it with this storyclust"
            )
        stored_d = stored.to_dict()
        new_d = Settings.from_kwargs(**given).to_dict()
        fixed = [k for k in _FIXED if k in given and new_d[k] != stored_d[k]]
        if fixed:
            what = ", ".join(f"{k}={stored_d[k]!r} (got {new_d[k]!r})" for k in fixed)
            raise SettingsError(
                f"index {self._path or ':memory:'} was built with {what}: these settings shape "
                "the stored vectors and signatures and are fixed when an index is created; open "
                "it without them, or build a new index"
            )
        changed = {k: v for k, v in given.items() if new_d[k] != stored_d[k]}
        new_max = self._given_max
        if new_max == _stored_max(meta):
            new_max = None
        if not changed and new_max is None:
            return stored
        merged = Settings.from_kwargs(**{**_settings_kwargs(stored), **changed})
        if self._readonly:
            # In force for this handle only, and again after each reload (_sync).
            self._overrides = changed
            return merged
        put: dict[str, Any] = {"generation": int(meta["generation"]) + 1}
        if changed:
            put["settings"] = merged.to_dict()
        if new_max is not None:
            put["max_story_members"] = new_max
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._put_meta(put)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return merged

    # --- state ----------------------------------------------------------------------------

    def _reload(self) -> None:
        """Read the working state from the database: settings (as another handle may
        have stored them), frequencies, runs and the articles within the horizon."""
        meta = self._meta()
        stored = _settings_from_dict(meta.get("settings"), self._path)
        if self._overrides:
            stored = Settings.from_kwargs(**{**_settings_kwargs(stored), **self._overrides})
        self._settings = s = stored
        self._max_members = (
            self._given_max if self._readonly and self._given_max else _stored_max(meta)
        )
        try:
            self._generation = int(meta["generation"])
            self._n_docs = int(meta["n_docs"])
            self._next_row = int(meta["next_row"])
            self._next_story = int(meta["next_story"])
            self._clock = math.nan if meta["clock"] is None else float(meta["clock"])
            self._bands = int(meta["hash_scheme"]["lsh"]["bands"])
            self._rows_per_band = int(meta["hash_scheme"]["lsh"]["rows"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"damaged index metadata ({exc!r})", path=self._path) from None
        self._horizon = _horizon(s)
        self._norms = None
        self._work = None
        df = (np.zeros(N_TERMS, dtype=np.int64), np.zeros(N_TERMS, dtype=np.int64))
        for space, page, blob in self._conn.execute("SELECT space, page, counts FROM df_pages"):
            if space not in (0, 1) or not 0 <= page < N_TERMS // _PAGE:
                raise InputError(f"damaged index: df page ({space}, {page})", path=self._path)
            df[space][page * _PAGE : (page + 1) * _PAGE] = stored_array(
                blob, "<i4", _PAGE, self._path, "df_pages"
            )
        # Frequencies changed since the pages were last written, in the order they changed.
        self._unfolded = np.zeros((2, N_TERMS // _PAGE), dtype=np.bool_)
        self._n_deltas = 0
        for space, terms, counts in self._conn.execute(
            "SELECT space, terms, counts FROM df_deltas ORDER BY seq"
        ):
            t = stored_array(terms, "<i4", None, self._path, "df_deltas terms")
            if space not in (0, 1) or (len(t) and not 0 <= int(t.min()) <= int(t.max()) < N_TERMS):
                raise InputError(f"damaged index: df delta of space {space}", path=self._path)
            df[space][t] = stored_array(counts, "<i4", len(t), self._path, "df_deltas counts")
            self._unfolded[space][t // _PAGE] = True
            self._n_deltas += len(t)
        self._df = df
        self._lg = (np.log1p(df[0].astype(np.float64)), np.log1p(df[1].astype(np.float64)))
        self._boiler = frozenset(
            str(x) for (x,) in self._conn.execute("SELECT line FROM boilerplate")
        )
        self._load_runs()
        self._pool = Pool(s.num_perm)
        self._floor = self._clock - self._horizon if not math.isnan(self._clock) else -math.inf
        if math.isfinite(self._floor):
            self._load("day IS NULL OR day >= ?", (self._floor,))
        else:
            self._load("1", ())

    def _load_runs(self) -> None:
        """Read the LSH runs, keeping those already in memory and unchanged."""
        old = getattr(self, "_runs", LshRuns()).runs
        runs = LshRuns()
        for first, last, n in self._conn.execute("SELECT first_row, last_row, n FROM lsh_runs"):
            have = old.get(first)
            if have is not None and have[0] == last and len(have[1]) == n:
                runs.runs[first] = have
                continue
            keys, rows = self._conn.execute(
                "SELECT keys, rows FROM lsh_runs WHERE first_row = ?", (first,)
            ).fetchone()
            runs.runs[int(first)] = (
                int(last),
                stored_array(keys, "<u8", int(n), self._path, "lsh_runs").astype(np.uint64),
                stored_array(rows, "<i8", int(n), self._path, "lsh_runs").astype(np.int64),
            )
        self._runs = runs

    def _sync(self) -> None:
        """Reload if another connection wrote since we last looked."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        if row is None or int(json.loads(row[0])) != self._generation:
            self._reload()

    def _load(self, where: str, params: tuple[Any, ...]) -> None:
        """Read the articles matching `where` into memory (those not there yet)."""
        pool = self._pool
        recs = self._conn.execute(f"SELECT {_ROW_COLUMNS} FROM {ARTICLES} WHERE {where}", params)
        got = [r for r in recs if int(r[0]) not in pool.slot_of]
        if not got:
            return
        p = self._settings.num_perm
        sig = np.empty((len(got), p), dtype=np.uint32)
        tf_parts, nm_parts = [], []
        for k, r in enumerate(got):
            tf_parts.append(self._vector(r[7], "tf"))
            nm_parts.append(self._vector(r[8], "names"))
            sig[k] = stored_array(r[9], "<u4", p, self._path, "signature")
        tf_ptr, tf_idx, tf_cnt = stack(tf_parts)
        nm_ptr, nm_idx, nm_cnt = stack(nm_parts)
        batch = Batch(
            ids=[str(r[1]) for r in got],
            tf_ptr=tf_ptr,
            tf_idx=tf_idx,
            tf_cnt=tf_cnt,
            nm_ptr=nm_ptr,
            nm_idx=nm_idx,
            nm_cnt=nm_cnt,
            sig=sig,
            has_sh=np.array([bool(r[5]) for r in got], dtype=np.bool_),
            titles=[str(r[4]) for r in got],
            days=np.array([math.nan if r[3] is None else r[3] for r in got], dtype=np.float64),
            n_tokens=np.array([int(r[10]) for r in got], dtype=np.int64),
            snippets=[""] * len(got),
            learned={},
        )
        pool.append(
            batch,
            np.array([r[0] for r in got], dtype=np.int64),
            np.array([r[2] for r in got], dtype=np.int64),
            np.array([r[6] for r in got], dtype=np.float64),
        )

    def _vector(self, blob: Any, what: str) -> tuple[Any, Any]:
        """A stored term vector, decoded and checked."""
        try:
            return decode_terms(blob)
        except ValueError as exc:
            raise InputError(f"damaged index: bad {what} vector ({exc})", path=self._path) from None

    # --- transactions ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self, *, overlap: bool = False) -> Iterator[None]:
        """One write transaction; on any failure, roll back and reload the state.

        With `overlap`, the caller waits for the last checkpoint (``_checkpointed``)
        itself, before its first write, unless the log has grown past
        ``_MAX_LOG_FRAMES``.
        """
        if self._readonly:
            raise SettingsError(
                "this index was opened with readonly=True; open it without to write"
            )
        c = self._conn
        if not overlap or self._log_frames > _MAX_LOG_FRAMES:
            self._checkpointed()
        c.execute("BEGIN IMMEDIATE")
        try:
            self._sync()
            yield
            self._generation += 1
            self._put_meta({"generation": self._generation})
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            self._reload()
            raise
        self._checkpoint_later()

    def _checkpoint_later(self) -> None:
        """Start folding the write-ahead log into the file, on another thread and connection.

        A passive checkpoint runs beside a writer, so the next add() prepares its
        articles meanwhile, and waits for it (``_checkpointed``) before its first
        write. SQLite starts the log over only when a transaction begins after a
        checkpoint has copied all of it: if the next one began too early, the log
        grows by one more transaction, and once it holds ``_MAX_LOG_FRAMES`` pages
        a transaction waits for the checkpoint before it begins.
        """
        if self._path is None or self._readonly:
            return
        self._checkpointed()
        if self._checkpointer is None:
            self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="storyclust-checkpoint")
        self._checkpointing = self._checkpointer.submit(_checkpoint, self._path)

    def _checkpointed(self) -> None:
        """Wait for the checkpoint started after the last write, if any."""
        done, self._checkpointing = self._checkpointing, None
        if done is not None:
            self._log_frames = done.result()

    def _put_meta(self, values: dict[str, Any]) -> None:
        """Update metadata keys (inside a transaction)."""
        self._conn.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [(k, json.dumps(v)) for k, v in values.items()],
        )

    # --- writing --------------------------------------------------------------------------

    def _write(
        self,
        arts: Articles,
        batch: Batch,
        slots: I64,
        clock: float,
        ch: Changes,
        packed: Packed,
    ) -> None:
        """Write one add() call's articles, stories and events (inside its transaction)."""
        c = self._conn
        pool = self._pool
        now = time.time()
        c.executemany(
            "INSERT INTO stories (id, opened_by, merged_into) VALUES (?, ?, NULL)", ch.new_stories
        )
        self._write_ops(ch.ops, now)
        new = set(slots.tolist())
        c.executemany(
            "INSERT OR REPLACE INTO centrality (row, score) VALUES (?, ?)",
            [
                (int(pool.row[d]), float(pool.score[d]))
                for d in sorted(ch.dirty - new)
                if pool.alive[d]
            ],
        )
        records = []
        for k, a in enumerate(arts):
            slot = int(slots[k])
            records.append(
                (
                    int(pool.row[slot]),
                    a.id,
                    int(pool.story[slot]),
                    None if math.isnan(batch.days[k]) else float(batch.days[k]),
                    now,
                    a.title,
                    a.source,
                    a.url,
                    a.published.isoformat() if a.published else None,
                    batch.snippets[k],
                    batch.titles[k],
                    int(batch.n_tokens[k]),
                    int(batch.has_sh[k]),
                    float(pool.score[slot]),
                    *packed[k],
                )
            )
        c.executemany(f"INSERT INTO articles VALUES ({','.join('?' * 17)})", records)
        self._put_meta(
            {
                "n_docs": self._n_docs,
                "next_row": self._next_row + len(arts),
                "next_story": self._next_story,
                "clock": None if math.isnan(clock) else clock,
            }
        )

    def _write_batch(self, arts: Articles, batch: Batch, slots: I64, changed: list[I64]) -> None:
        """Write what an add() call stores whatever the assignments: LSH keys, frequencies, boilerplate.

        Waits first for the checkpoint started after the last write, if any.
        """
        self._checkpointed()
        pos = np.flatnonzero(batch.has_sh)
        if len(pos):
            keys = band_keys(batch.sig[pos], self._bands, self._rows_per_band)
            first = self._next_row
            self._put_run(
                first, first + len(arts) - 1, *LshRuns.entries(keys, self._pool.row[slots[pos]])
            )
            merge = self._runs.to_merge()
            if merge:
                self._put_run(*self._runs.merged(merge), replace=merge)
        self._write_df(changed)
        self._conn.executemany(
            "INSERT OR IGNORE INTO boilerplate (hash, line) VALUES (?, ?)",
            sorted(batch.learned.items()),
        )
        self._boiler = self._boiler | frozenset(batch.learned.values())

    def _put_run(
        self, first: int, last: int, keys: U64, rows: I64, *, replace: Sequence[int] = ()
    ) -> None:
        """Store an LSH run (inside a transaction), in place of the runs starting at `replace`."""
        for f in replace:
            self._conn.execute("DELETE FROM lsh_runs WHERE first_row = ?", (f,))
            del self._runs.runs[f]
        if len(keys):
            self._conn.execute(
                "INSERT INTO lsh_runs (first_row, last_row, n, keys, rows) VALUES (?, ?, ?, ?, ?)",
                (
                    first,
                    last,
                    len(keys),
                    keys.astype("<u8").tobytes(),
                    rows.astype("<i8").tobytes(),
                ),
            )
            self._runs.runs[first] = (last, keys, rows)

    def _write_ops(self, ops: list[Op], now: float) -> None:
        """Apply merges and splits to the stored articles, in order, and log them."""
        c = self._conn
        for op in ops:
            if op.kind == "merge":
                c.execute("UPDATE articles SET story = ? WHERE story = ?", (op.story, op.other))
                c.execute("UPDATE stories SET merged_into = ? WHERE id = ?", (op.story, op.other))
            else:
                for chunk in chunks(op.rows, 500):
                    c.execute(
                        f"UPDATE articles SET story = ? WHERE row IN ({','.join('?' * len(chunk))})",
                        (op.other, *chunk),
                    )
            c.execute(
                "INSERT INTO events (kind, story, other, article, score, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (op.kind, op.story, op.other, op.article, op.score, now),
            )

    def _write_df(self, changed: Sequence[I64]) -> None:
        """Store the document frequencies of terms `changed` (one array a space).

        They are appended as one delta a space (terms and their counts), which
        costs what changed, not every page it touches (nearly all of them for a
        batch of articles); past ``_MAX_DF_DELTAS`` the deltas are folded into
        their pages.
        """
        for space, t in enumerate(changed):
            if len(t):
                self._conn.execute(
                    "INSERT INTO df_deltas (space, terms, counts) VALUES (?, ?, ?)",
                    (
                        space,
                        t.astype("<i4").tobytes(),
                        self._df[space][t].astype("<i4").tobytes(),
                    ),
                )
                self._unfolded[space][t // _PAGE] = True
                self._n_deltas += len(t)
        if self._n_deltas > _MAX_DF_DELTAS:
            self._fold_df()

    def _fold_df(self) -> None:
        """Write the pages the stored deltas changed and drop the deltas (inside a transaction)."""
        size = _PAGE * 4
        for space in (0, 1):
            raw = self._df[space].astype("<i4").tobytes()
            self._conn.executemany(
                "INSERT OR REPLACE INTO df_pages (space, page, counts) VALUES (?, ?, ?)",
                [
                    (space, pg, raw[pg * size : (pg + 1) * size])
                    for pg in np.flatnonzero(self._unfolded[space]).tolist()
                ],
            )
        self._conn.execute("DELETE FROM df_deltas")
        self._unfolded[:] = False
        self._n_deltas = 0

    def _drop_from_runs(self, rows: I64) -> None:
        """Rewrite the LSH runs holding any of `rows` without them (inside a transaction)."""
        for first, (last, keys, held) in sorted(self._runs.runs.items()):
            inside = rows[(rows >= first) & (rows <= last)]
            if not len(inside):
                continue
            keep = ~np.isin(held, inside)
            if not keep.all():
                self._put_run(first, last, keys[keep], held[keep], replace=[first])


# --- helpers ----------------------------------------------------------------------------------


def _checkpoint(path: str) -> int:
    """Copy the committed pages of the write-ahead log of `path` into the file (never waits).

    Returns the number of pages the log holds.
    """
    conn = sqlite3.connect(path, isolation_level=None, timeout=0.0)
    try:
        conn.execute("PRAGMA synchronous = NORMAL")
        _, n_log, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        conn.close()
    return int(n_log)


def _hash_scheme(settings: Settings, bands: Any, rows: Any) -> dict[str, Any]:
    """What a stored vector, signature or key means (checked on open)."""
    return {
        "tokens": "storyclust.text.tokenize; FNV-1a 64 over UTF-8",
        "term_ids": f"token hash mod 2**{TERM_BITS}",
        "stop_words": STOP_DIGEST,
        "shingles": f"word {settings.shingle_size}-shingles, storyclust fold",
        "minhash": {"scheme": "storyclust", "num_perm": settings.num_perm, "seed": settings.seed},
        "lsh": {"bands": bands, "rows": rows},
        "lines": "FNV-1a 64 of storyclust.text.normalize(line)",
    }


def _horizon(s: Settings) -> float:
    """Days beyond which the time factor keeps every pair below ``link_threshold``."""
    window, decay = float(s.time_window_days), float(s.time_decay_days)
    if math.isinf(window) or math.isinf(decay):
        return math.inf
    if decay == 0:
        return window
    return window + decay * math.log(1.0 / s.link_threshold)


def stored_array(value: Any, dtype: str, length: int | None, path: str | None, what: str) -> Any:
    """A stored array, its type and length checked (reading it runs no code)."""
    if not isinstance(value, bytes):
        raise InputError(f"damaged index: {what} is not a byte string", path=path)
    size = np.dtype(dtype).itemsize
    if len(value) % size or (length is not None and len(value) != length * size):
        raise InputError(f"damaged index: {what} has {len(value)} bytes", path=path)
    return np.frombuffer(value, dtype=dtype)


def chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive pieces of at most `size` items."""
    for k in range(0, len(items), size):
        yield list(items[k : k + size])


def _settings_kwargs(s: Settings) -> dict[str, Any]:
    """Settings as keyword arguments."""
    return {k: getattr(s, k) for k in s.to_dict()}


#: max_story_members of an index that does not store one (written before it was stored).
DEFAULT_MAX_MEMBERS: Final = 100


def _stored_max(meta: dict[str, Any]) -> int:
    """The index's max_story_members."""
    value = meta.get("max_story_members", DEFAULT_MAX_MEMBERS)
    return value if isinstance(value, int) and value >= 2 else DEFAULT_MAX_MEMBERS


def _settings_from_dict(d: Any, path: str | None) -> Settings:
    """Stored settings (JSON) back into Settings."""
    if not isinstance(d, dict):
        raise InputError("damaged index: its settings are not a mapping", path=path)
    kw: dict[str, Any] = {k: (math.inf if v == "inf" else v) for k, v in d.items()}
    if isinstance(kw.get("representative"), list):
        kw["representative"] = tuple(kw["representative"])
    try:
        return Settings.from_kwargs(**kw)
    except SettingsError as exc:
        raise SettingsError(
            f"the index's stored settings are not valid in this storyclust ({exc}); "
            "rebuild the index"
        ) from None
