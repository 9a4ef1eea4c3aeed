"""How a StoryIndex assigns articles: candidates, story scores, merges, re-cuts.

Private to :mod:`storyclust.index`, whose documentation ("How an article is
assigned") gives the rules. :class:`Assigner` is the layer of
:class:`storyclust.StoryIndex` that assigns: it prepares new articles (features,
LSH candidates, older articles read in), finds their TF-IDF neighbours on
another thread, scores each against the stories of its candidates, joins, merges
and re-cuts them (the batch stories stage, ``_cut``), and keeps memory within the
horizon. It works on the state :class:`~storyclust._index_store.IndexStore`
reads, and leaves the writing to it.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
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
from ._index_records import Assignment, StoryMatch
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
)
from ._index_store import Changes, IndexStore, Op, chunks
from .articles import Article, Articles
from .settings import Settings
from .similarity import band_candidates, band_keys, top_per_row
from .stories import number_by_first_appearance

__all__ = ["Assigner"]

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


@dataclass
class _Scored:
    """An article scored against the members of its candidate stories."""

    stories: I64  # candidate stories, ascending
    agg: F64  # linkage score with each
    members: I64  # member slots, grouped by story
    owner: I64  # index into `stories` of each member
    signals: Signals  # shape (1, len(members))


class Assigner(IndexStore):
    """The assignment of articles to stories, over the state an :class:`IndexStore` holds.

    A base class of StoryIndex (on top of the store), not functions: its methods
    share most of the index's state and call each other, and
    ``benchmarks/index_phases.py`` times them, as phases of ``add``, on the class.
    """

    _max_members: int  # max_story_members

    # --- adding, querying -----------------------------------------------------------------

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
                    # Each story once: one story can take parts of several re-cut ones.
                    merged=tuple(dict.fromkeys(o.other for o in done if o.kind == "merge")),
                    split=tuple(dict.fromkeys(o.other for o in done if o.kind == "split")),
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

    # --- scoring --------------------------------------------------------------------------

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

    # --- merging, re-cutting --------------------------------------------------------------

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
        # A story whose oldest article here goes to another kept story is merged into it
        # below, whole: those of its articles that go along are not split off first (a
        # story moved whole was logged as a split of score 0, and its id then resolved to
        # nothing).
        merging = {sid: final[lab] for sid, lab in keeper.items() if final[lab] != sid}
        moving = target != cur
        for src, dst in sorted({(int(a), int(b)) for a, b in zip(cur[moving], target[moving])}):
            if merging.get(src) == dst:
                continue
            sel = moving & (cur == src) & (target == dst)
            # Its linkage with the rest of the story it leaves (staying, or merged away).
            rest = (cur == src) & ~sel
            score = float(dense[np.ix_(sel, rest)].mean()) if rest.any() else 0.0
            pool.move(m[sel].tolist(), dst)
            ch.ops.append(Op("split", src, dst, aid, score, tuple(rows[sel].tolist())))
        for sid, lab in sorted(keeper.items()):
            dst = final[lab]
            if dst != sid and sid in pool.members:
                a, b = target == dst, cur == sid
                score = float(dense[np.ix_(a & b, a & ~b)].mean()) if (a & ~b).any() else 0.0
                pool.move(pool.members.pop(sid), dst)
                ch.ops.append(Op("merge", dst, sid, aid, score))

    # --- candidates -----------------------------------------------------------------------

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

    # --- memory ---------------------------------------------------------------------------

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

    As there, the articles are first parted into the components of the pairs
    scoring at least ``threshold`` (linkage never joins two of them), and each is
    cut on its own: inside one, pairs of one group of links (scores >=
    ``link_threshold``) keep their score, others count 0, and the dendrogram of
    ``linkage`` is cut at ``threshold``. Cutting each component on its own gives
    the batch's dendrogram where scores tie (tied merges are taken in an order that
    depends on the articles in the matrix). Equal to ``group_links`` with these
    scores as its `similarity` (tested), without its per-call overhead.
    Returns labels 0..k-1 by first appearance.
    """
    m = len(dense)
    if m < 2:
        return np.zeros(m, dtype=np.int64)
    part = components(dense >= s.threshold)  # each article's smallest fellow
    if not part.any():
        return _cut_group(dense, s)
    out = np.empty(m, dtype=np.int64)
    nxt = 0
    for root in np.unique(part):
        members = np.flatnonzero(part == root)
        sub = _cut_group(dense[np.ix_(members, members)], s) if len(members) > 1 else 0
        out[members] = nxt + sub
        nxt += int(np.max(sub)) + 1
    return number_by_first_appearance(out)


def _cut_group(dense: F64, s: Settings) -> I64:
    """:func:`_cut` of one component (labels 0..k-1 by first appearance)."""
    m = len(dense)
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
