"""The similarity kernel beside the MinHash and cosine libraries a user could pick instead.

One run, one seeded synthetic corpus per size (``synthetic.make_corpus``: 300-900-word
articles and their edited reprints), three stages:

- **signatures**, 128 permutations of word 5-shingles: storyclust (raw text in,
  tokenising included, 1 and all threads) beside datasketch ``MinHash.bulk`` (SHA-1)
  and per-shingle ``update``, rensa ``digest_matrix_from_token_sets`` and gaoya
  ``bulk_hash_docs``. The peers get the shingle strings made for them, untimed
  (gaoya tokenises itself); storyclust's time includes tokenising.
- **candidates** at Jaccard 0.8: storyclust ``band_keys`` + ``band_candidates``
  beside datasketch ``MinHashLSH`` insert + query, rensa ``RMinHashLSH``
  ``insert_many`` + ``query_all`` and gaoya ``par_bulk_insert_docs`` +
  ``par_bulk_query`` (which hashes too: it has no other entry point).
- **cosine neighbours** of TF-IDF rows (content words, as the pipeline weighs them) above a threshold: storyclust
  ``cosine_neighbors`` beside scikit-learn ``NearestNeighbors`` (brute, cosine,
  radius) and sparse_dot_topn ``sp_matmul_topn``.

Each library runs in its own subprocess: a warm-up on 200 documents, then repeats
(median and min reported); peak memory is the larger of the growth of the resident
set during the first timed repeat (VmHWM reset through /proc/self/clear_refs), which
counts native allocations that tracemalloc misses, and tracemalloc's peak. Accuracy sits beside time: Jaccard estimate
error against the exact Jaccard of sampled pairs, candidate recall against the
exact pairs at J >= 0.8 (all pairs inside a reprint family, where every such pair
lives; pairs across families are checked too), cosine recall against exact pairs.
Slow peers are timed on a subsample (said so in the table).

    python benchmarks/bench_similarity.py                 # N = 10k and 100k
    python benchmarks/bench_similarity.py --n 2000        # a quick run
    python benchmarks/bench_similarity.py --large         # adds N = 1M

Writes benchmarks/results/similarity.json and similarity.md (``--out``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


from synthetic import make_corpus  # noqa: E402

NUM_PERM = 128
K = 5
SEED = 1
THRESHOLD = 0.8
MIN_RECALL = 0.99
WARMUP_DOCS = 200
# A peer slower than this (seconds per repeat) is timed once.
ONE_REPEAT_AFTER = 20.0

# --- process memory -----------------------------------------------------------------


def _status_kb(field: str) -> int:
    """A VmRSS/VmHWM line of /proc/self/status, in kB (0 where unavailable)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _reset_peak() -> bool:
    """Reset the resident-set high-water mark to the current size (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# --- workers: one library and stage per subprocess ------------------------------------


def _load(workdir: Path, name: str) -> Any:
    with open(workdir / name, "rb") as f:
        return pickle.load(f)


def _shingle_sets(docs: list[str]) -> list[list[str]]:
    import storyclust

    return [storyclust.shingles(d, K) for d in docs]


def _time(
    fn: Callable[[list[Any]], Any], inputs: list[Any], repeats: int
) -> tuple[list[float], dict[str, float], Any]:
    """Warm up on a few documents, time `repeats` runs, then measure memory.

    Memory: the growth of the resident set during the first timed run (native
    allocations; memory the process freed before is reused and not counted), and
    the peak of Python allocations (numpy included) in one more run under
    tracemalloc. The larger is the peak.
    """
    fn(inputs[:WARMUP_DOCS])
    times: list[float] = []
    rss_mb = float("nan")
    result: Any = None
    for r in range(repeats):
        result = None
        gc.collect()
        before = _status_kb("VmRSS")
        reset = _reset_peak()
        t = time.perf_counter()
        result = fn(inputs)
        times.append(time.perf_counter() - t)
        if r == 0 and reset:
            rss_mb = max(0, _status_kb("VmHWM") - before) / 1024
        if times[-1] > ONE_REPEAT_AFTER:
            break
    py_mb = float("nan")
    if times[0] <= ONE_REPEAT_AFTER:
        kept, result = result, None
        gc.collect()
        tracemalloc.start()
        fn(inputs)
        py_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        result = kept
    memory = {
        "rss_growth_mb": rss_mb,
        "python_peak_mb": py_mb,
        "peak_mb": float(np.nanmax([rss_mb, py_mb])),
    }
    return times, memory, result


def _pairs_from_lists(
    neighbours: list[list[int]] | list[Any], ids: list[int] | None = None
) -> np.ndarray:
    """Unique (i < j) pairs from per-document neighbour lists."""
    rows, cols = [], []
    for i, nb in enumerate(neighbours):
        i_id = i if ids is None else ids[i]
        for j in nb:
            j = int(j)
            if j != i_id:
                rows.append(min(i_id, j))
                cols.append(max(i_id, j))
    if not rows:
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(np.stack([rows, cols], axis=1).astype(np.int64), axis=0)


def worker(task: str, workdir: Path, repeats: int) -> dict[str, Any]:
    """Run one (stage, library) measurement; return timings and where results went."""
    docs: list[str] = _load(workdir, "docs.pkl")
    sample_docs: np.ndarray = np.load(workdir / "sample_docs.npy")
    sub: list[int] = sample_docs.tolist()
    out: dict[str, Any] = {"task": task}
    inputs: list[Any]

    if task.startswith("sig:"):
        lib = task[4:]
        if lib.startswith("storyclust"):
            import storyclust

            if lib == "storyclust-datasketch-scheme":
                inputs = [docs[i] for i in sub]
                fn = lambda xs: storyclust.signatures(xs, NUM_PERM, SEED, scheme="datasketch")  # noqa: E731
            else:
                threads = 1 if lib.endswith("1-thread") else None
                inputs = docs
                fn = lambda xs: storyclust.signatures(xs, NUM_PERM, SEED, n_threads=threads)  # noqa: E731
            times, memory, res = _time(fn, inputs, repeats)
            rows = res if len(inputs) == len(sub) else res[sub]
        elif lib.startswith("datasketch"):
            from datasketch import MinHash

            inputs = [
                [s.encode("utf-8") for s in sh] for sh in _shingle_sets([docs[i] for i in sub])
            ]
            if lib == "datasketch-bulk":
                fn = lambda xs: MinHash.bulk(xs, num_perm=NUM_PERM, seed=SEED)  # noqa: E731
            else:

                def fn(xs: list[list[bytes]]) -> list[MinHash]:
                    out_m = []
                    for sh in xs:
                        m = MinHash(num_perm=NUM_PERM, seed=SEED)
                        for s in sh:
                            m.update(s)
                        out_m.append(m)
                    return out_m

            times, memory, res = _time(fn, inputs, repeats)
            rows = np.array([m.hashvalues for m in res], dtype=np.uint64)
        elif lib == "rensa":
            import rensa

            inputs = _shingle_sets(docs)
            fn = lambda xs: rensa.RMinHash.digest_matrix_from_token_sets(xs, NUM_PERM, SEED)  # noqa: E731
            times, memory, res = _time(fn, inputs, repeats)
            rows = np.asarray(res.to_rows(), dtype=np.uint64)[sub]
        elif lib == "gaoya":
            import gaoya

            index = gaoya.minhash.MinHashStringIndex(
                hash_size=32,
                jaccard_threshold=THRESHOLD,
                num_bands=16,
                band_size=8,
                analyzer="word",
                lowercase=True,
                ngram_range=(K, K),
                id_container="vec",
            )
            inputs = docs
            fn = lambda xs: index.minhash_index.bulk_hash_docs(xs)  # noqa: E731
            times, memory, res = _time(fn, inputs, repeats)
            rows = None  # its own tokeniser: its shingle sets are not ours
        else:
            raise ValueError(task)
        out["n_timed"] = len(inputs)
        if rows is not None:
            np.save(workdir / f"rows_{lib}.npy", np.asarray(rows, dtype=np.uint64))
            out["rows"] = f"rows_{lib}.npy"

    elif task.startswith("cand:"):
        lib = task[5:]
        import storyclust
        from storyclust import similarity as sim

        sig = np.load(workdir / "signatures.npy")
        n = len(docs)
        # The same banding for every library: the fewest false positives that still
        # find a pair at exactly J = THRESHOLD with probability MIN_RECALL.
        bands, rows_per_band = sim.lsh_params(THRESHOLD, NUM_PERM, min_recall=MIN_RECALL)
        if lib == "storyclust":
            inputs = list(range(n))
            # Which documents have shingles is known with the signatures (the
            # pipeline keeps it from the shingle offsets); not part of the stage.
            has_shingles = (sig != sim.EMPTY_VALUE).any(axis=1)

            def fn(idx: list[int]) -> np.ndarray:
                keys = sim.band_keys(sig[: len(idx)], bands, rows_per_band)
                return sim.band_candidates(keys, valid=has_shingles[: len(idx)])

            times, memory, pairs = _time(fn, inputs, repeats)
        elif lib == "datasketch":
            from datasketch import MinHashLSH

            inputs = [storyclust.to_datasketch(row, seed=SEED) for row in sig]

            def fn(ms: list[Any]) -> list[list[int]]:
                lsh = MinHashLSH(num_perm=NUM_PERM, params=(bands, rows_per_band))
                for i, m in enumerate(ms):
                    lsh.insert(i, m, check_duplication=False)
                return [lsh.query(m) for m in ms]

            times, memory, res = _time(fn, inputs, repeats)
            pairs = _pairs_from_lists(res)
        elif lib == "rensa":
            import rensa

            # rensa's bands split all of num_perm: sign with bands * rows permutations.
            used = bands * rows_per_band
            inputs = rensa.RMinHash.from_token_sets(_shingle_sets(docs), used, SEED)

            def fn(ms: list[Any]) -> list[list[int]]:
                lsh = rensa.RMinHashLSH(THRESHOLD, used, bands)
                lsh.insert_many(ms)
                return lsh.query_all(ms)  # type: ignore[no-any-return]

            times, memory, res = _time(fn, inputs, repeats)
            pairs = _pairs_from_lists(res)
        elif lib == "gaoya":
            import gaoya

            inputs = docs

            def fn(xs: list[str]) -> list[list[int]]:
                index = gaoya.minhash.MinHashStringIndex(
                    hash_size=32,
                    jaccard_threshold=THRESHOLD,
                    num_bands=bands,
                    band_size=rows_per_band,
                    analyzer="word",
                    lowercase=True,
                    ngram_range=(K, K),
                    id_container="vec",
                )
                index.par_bulk_insert_docs(list(range(len(xs))), xs)
                return index.par_bulk_query(xs)  # type: ignore[no-any-return]

            times, memory, res = _time(fn, inputs, repeats)
            pairs = _pairs_from_lists(res)
        else:
            raise ValueError(task)
        out["n_timed"] = n
        np.save(workdir / f"pairs_{lib}.npy", pairs)
        out["pairs"] = f"pairs_{lib}.npy"

    elif task.startswith("cos:"):
        lib = task[4:]
        x = sp.load_npz(workdir / "tfidf.npz").tocsr()
        threshold = float(_load(workdir, "meta.pkl")["cosine_threshold"])
        n = x.shape[0]
        inputs = list(range(n))
        if lib == "storyclust":
            from storyclust import similarity as sim

            def fn(idx: list[int]) -> np.ndarray:
                return sim.cosine_neighbors(x[: len(idx)], threshold=threshold, max_neighbors=n)[0]

        elif lib == "storyclust-bounded":
            from storyclust import similarity as sim
            from storyclust.links import MAX_POSTINGS, NEIGHBOR_TERMS

            def fn(idx: list[int]) -> np.ndarray:
                return sim.cosine_candidates(
                    x[: len(idx)],
                    threshold=threshold,
                    max_terms=NEIGHBOR_TERMS,
                    max_postings=MAX_POSTINGS,
                    max_neighbors=n,
                )[0]

        elif lib == "sklearn":
            from sklearn.neighbors import NearestNeighbors

            def fn(idx: list[int]) -> np.ndarray:
                y = x[: len(idx)]
                nn = NearestNeighbors(radius=1 - threshold, metric="cosine", algorithm="brute").fit(
                    y
                )
                return _pairs_from_lists(nn.radius_neighbors(y, return_distance=False))

        elif lib == "sparse_dot_topn":
            from sparse_dot_topn import sp_matmul_topn

            def fn(idx: list[int]) -> np.ndarray:
                y = x[: len(idx)]
                c = sp_matmul_topn(
                    y,
                    y.T.tocsr(),
                    top_n=len(idx),
                    threshold=threshold,
                    n_threads=os.cpu_count() or 1,
                ).tocoo()
                keep = c.row < c.col
                return np.unique(
                    np.stack([c.row[keep], c.col[keep]], axis=1).astype(np.int64), axis=0
                )

        else:
            raise ValueError(task)
        times, memory, pairs = _time(fn, inputs, repeats)
        out["n_timed"] = n
        np.save(workdir / f"cos_{lib}.npy", pairs)
        out["pairs"] = f"cos_{lib}.npy"
    else:
        raise ValueError(task)

    out["times"] = times
    out.update(memory)
    return out


def _run_worker(task: str, workdir: Path, repeats: int) -> dict[str, Any]:
    """Run `worker` in a fresh interpreter; an error becomes a row that says so."""
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        task,
        "--workdir",
        str(workdir),
        "--repeats",
        str(repeats),
    ]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        err = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        print(f"  {task}: FAILED: {err}", flush=True)
        return {"task": task, "error": err}
    res: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"  {task}: median {np.median(res['times']):.3f}s over {res['n_timed']} docs (wall {wall:.0f}s)",
        flush=True,
    )
    return res


def compile_times() -> dict[str, float]:
    """First-call time with an empty numba cache, then with the cache written."""
    code = (
        "import time; t=time.perf_counter(); import storyclust; "
        "from storyclust import similarity as sim; t1=time.perf_counter(); "
        "s=storyclust.signatures(['one two three four five six', 'x']); "
        "sim.shingle_hashes(sim.hash_token_text(__import__('numpy').frombuffer(b'a b', dtype='uint8'), [0, 3])[0], [0, 2], 5); "
        "sim.minhash_signatures(__import__('numpy').arange(3, dtype='uint64'), [0, 3]); "
        "print(t1 - t, time.perf_counter() - t1)"
    )
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("cold", "cached"):
            proc = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            imp, first = map(float, proc.stdout.split())
            out["import_s"] = round(imp, 3)
            out[f"first_call_{label}_cache_s"] = round(first, 3)
    return out


# --- ground truth -----------------------------------------------------------------------


def _shingle_hash_sets(docs: list[str]) -> list[np.ndarray]:
    """Each document's set of 64-bit shingle hashes (sorted, unique)."""
    import storyclust
    from storyclust import minhash
    from storyclust import similarity as sim

    data, off = minhash._encode(docs)
    h, toff, ok = sim.hash_raw_text(data, off)
    token_lists = [h[toff[d] : toff[d + 1]] for d in range(len(docs))]
    for d in np.flatnonzero(~ok):
        from storyclust.text import hash_strings

        token_lists[d] = hash_strings(storyclust.tokenize(docs[d]))
    lengths = np.array([len(t) for t in token_lists], dtype=np.int64)
    offsets = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.concatenate(token_lists) if token_lists else np.zeros(0, dtype=np.uint64)
    sh, so = sim.shingle_hashes(flat, offsets, K)
    return [np.unique(sh[so[d] : so[d + 1]]) for d in range(len(docs))]


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) == 0 and len(b) == 0:
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def _family_pairs(family: np.ndarray) -> np.ndarray:
    """All (i < j) pairs of articles in the same reprint family."""
    order = np.argsort(family, kind="stable")
    f = family[order]
    bounds = np.flatnonzero(np.r_[True, f[1:] != f[:-1], True])
    out = []
    for lo, hi in itertools.pairwise(bounds):
        if hi - lo > 1:
            m = np.sort(order[lo:hi])
            i, j = np.triu_indices(len(m), 1)
            out.append(np.stack([m[i], m[j]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)


def _estimate(rows: np.ndarray, pos: dict[int, int], pairs: np.ndarray) -> np.ndarray:
    a = rows[[pos[int(i)] for i in pairs[:, 0]]]
    b = rows[[pos[int(j)] for j in pairs[:, 1]]]
    return (a == b).mean(axis=1)


# --- one corpus size ----------------------------------------------------------------------


SIG_TASKS = [
    "sig:storyclust",
    "sig:storyclust-1-thread",
    "sig:storyclust-datasketch-scheme",
    "sig:datasketch-bulk",
    "sig:datasketch-update",
    "sig:rensa",
    "sig:gaoya",
]
CAND_TASKS = ["cand:storyclust", "cand:datasketch", "cand:rensa", "cand:gaoya"]
COS_TASKS = ["cos:storyclust", "cos:storyclust-bounded", "cos:sklearn", "cos:sparse_dot_topn"]


def run_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Generate the corpus, the ground truth, and measure every stage and library."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    import storyclust
    from storyclust import similarity as sim

    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    corpus = make_corpus(n, seed=args.seed)
    docs = corpus.documents
    words = np.array([len(d.split()) for d in docs])
    print(
        f"N = {n}: corpus in {time.perf_counter() - t0:.0f}s, median {int(np.median(words))} words",
        flush=True,
    )
    result: dict[str, Any] = {
        "n": n,
        "median_words": int(np.median(words)),
        "reprints": int((corpus.family != np.arange(n)).sum()),
    }
    with tempfile.TemporaryDirectory(prefix="bench_sim_") as tmp:
        workdir = Path(tmp)
        with open(workdir / "docs.pkl", "wb") as f:
            pickle.dump(docs, f, protocol=pickle.HIGHEST_PROTOCOL)
        # Ground truth: exact shingle sets, family pairs and their Jaccard.
        t0 = time.perf_counter()
        sets = _shingle_hash_sets(docs)
        fam = _family_pairs(corpus.family)
        fam_j = np.array([_jaccard(sets[i], sets[j]) for i, j in fam])
        exact = fam[fam_j >= THRESHOLD]
        print(
            f"  ground truth in {time.perf_counter() - t0:.0f}s: {len(fam)} family pairs, "
            f"{len(exact)} at J >= {THRESHOLD}",
            flush=True,
        )
        # Sampled pairs for the estimate error: family pairs over the whole J range, and random pairs.
        n_fam = min(len(fam), args.sample_pairs)
        pick = fam[rng.choice(len(fam), size=n_fam, replace=False)] if n_fam else fam
        rand = rng.integers(0, n, size=(args.sample_pairs // 2, 2))
        rand = np.sort(rand[rand[:, 0] != rand[:, 1]], axis=1)
        sample_pairs = np.concatenate([pick, rand]).astype(np.int64)
        sample_docs = np.unique(sample_pairs)
        np.save(workdir / "sample_docs.npy", sample_docs)
        sample_j = np.array([_jaccard(sets[i], sets[j]) for i, j in sample_pairs])
        pos = {int(d): k for k, d in enumerate(sample_docs)}
        del sets
        # Inputs of the later stages, made once.
        np.save(workdir / "signatures.npy", storyclust.signatures(docs, NUM_PERM, SEED))
        m = min(n, args.cosine_n)
        # The TF-IDF the pipeline clusters with: content words (stop words out),
        # sublinear counts, as scikit-learn computes it.
        stop = storyclust.text.STOP_WORDS
        x = TfidfVectorizer(
            analyzer=lambda d: [w for w in storyclust.tokenize(d) if w not in stop],
            sublinear_tf=True,
            dtype=np.float64,
        ).fit_transform(docs[:m])
        sp.save_npz(workdir / "tfidf.npz", sp.csr_matrix(x))
        with open(workdir / "meta.pkl", "wb") as f:
            pickle.dump({"cosine_threshold": args.cosine_threshold}, f)

        rows: list[dict[str, Any]] = []
        print("  signatures", flush=True)
        for task in SIG_TASKS:
            r = _run_worker(task, workdir, args.repeats)
            if "rows" in r:
                est = _estimate(np.load(workdir / r["rows"]), pos, sample_pairs)
                err = np.abs(est - sample_j)
                r["jaccard_mae"] = float(err.mean())
                r["jaccard_max_error"] = float(err.max())
            rows.append({"stage": "signatures", **r})
        print("  candidates", flush=True)
        exact_set = {(int(i), int(j)) for i, j in exact}
        cand: dict[str, np.ndarray] = {}
        for task in CAND_TASKS:
            r = _run_worker(task, workdir, args.repeats)
            if "pairs" in r:
                pairs = np.load(workdir / r["pairs"])
                cand[task] = pairs
                found = {(int(i), int(j)) for i, j in pairs}
                r["n_pairs"] = len(found)
                r["recall"] = len(found & exact_set) / len(exact_set) if exact_set else 1.0
            rows.append({"stage": "candidates", **r})
        # Pairs across families found by anyone: are any of them >= THRESHOLD after all?
        famset = {(int(i), int(j)) for i, j in fam}
        cross = {(int(i), int(j)) for p in cand.values() for i, j in p} - famset
        sets = _shingle_hash_sets(docs) if cross else []
        cross_j = [_jaccard(sets[i], sets[j]) for i, j in sorted(cross)][:100000]
        result["cross_family_candidates"] = len(cross)
        result["cross_family_max_jaccard"] = float(max(cross_j)) if cross_j else 0.0
        del sets
        print("  cosine neighbours", flush=True)
        cos: dict[str, Any] = {}
        for task in COS_TASKS:
            r = _run_worker(task, workdir, args.repeats)
            if "pairs" in r:
                cos[task] = np.load(workdir / r["pairs"])
                r["n_pairs"] = len(cos[task])
            rows.append({"stage": "cosine", **r})
        if "cos:sklearn" in cos:
            truth = {(int(i), int(j)) for i, j in cos["cos:sklearn"]}
            for r in rows:
                if r["stage"] == "cosine" and r["task"] in cos:
                    got = {(int(i), int(j)) for i, j in cos[r["task"]]}
                    r["recall"] = len(got & truth) / len(truth) if truth else 1.0
        result["bands"], result["lsh_rows"] = sim.lsh_params(
            THRESHOLD, NUM_PERM, min_recall=MIN_RECALL
        )
        result["cosine_n"] = m
        result["cosine_threshold"] = args.cosine_threshold
        result["exact_pairs"] = len(exact)
        result["sample_pairs"] = len(sample_pairs)
    for r in rows:
        if "times" in r:
            r["median_s"] = float(np.median(r["times"]))
            r["min_s"] = float(np.min(r["times"]))
            r["docs_per_s"] = r["n_timed"] / r["median_s"]
    for stage in ("signatures", "candidates", "cosine"):
        ours = next(
            (r for r in rows if r["stage"] == stage and r["task"].endswith(":storyclust")), None
        )
        for r in rows:
            if (
                r["stage"] == stage
                and ours is not None
                and "docs_per_s" in r
                and "docs_per_s" in ours
            ):
                r["storyclust_speedup"] = ours["docs_per_s"] / r["docs_per_s"]
    result["rows"] = rows
    return result


# --- output ---------------------------------------------------------------------------


def _fmt(v: Any, spec: str) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    return format(v, spec)


NOTES = {
    "sig:storyclust": "raw text in: tokenising included; all threads",
    "sig:storyclust-1-thread": "raw text in, one thread",
    "sig:storyclust-datasketch-scheme": "bit-identical to datasketch; subsample",
    "sig:datasketch-bulk": "shingles given, untimed; subsample",
    "sig:datasketch-update": "shingles given, untimed; subsample",
    "sig:rensa": "shingles given, untimed",
    "sig:gaoya": "own tokeniser (words, lowercase, 5-grams)",
    "cand:storyclust": "band_keys + band_candidates",
    "cand:datasketch": "insert + query; storyclust's signatures as LeanMinHash",
    "cand:rensa": "insert_many + query_all; signatures of bands x rows permutations",
    "cand:gaoya": "insert + query, its hashing included",
    "cos:storyclust": "cosine_neighbors, all neighbours",
    "cos:storyclust-bounded": "cosine_candidates: 32 heaviest terms an article, hub terms capped (the pipeline's)",
    "cos:sklearn": "NearestNeighbors brute cosine radius; the exact answer",
    "cos:sparse_dot_topn": "sp_matmul_topn, all cores",
}


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Similarity kernel benchmark",
        "",
        f"Machine: {report['machine']}. Load average at start / end: {report['load_start']} / {report['load_end']}"
        " (other work on this machine slows every library alike, within one run).",
        f"numba first call: {report['compile']}.",
        "",
        "Speed-up = storyclust's documents per second over the library's (same stage, same corpus, same run). "
        "Peak MB = the larger of the resident-set growth during one timed run (native memory) and the "
        "tracemalloc peak of one more run (Python and numpy memory); n/a where the run was too slow to repeat. "
        "Unavailable libraries are listed as not measured.",
        "",
    ]
    for size in report["sizes"]:
        lines += [
            f"## N = {size['n']:,} (median {size['median_words']} words, {size['reprints']:,} reprints)",
            "",
            f"LSH: {size['bands']} bands x {size['lsh_rows']} rows for every library. "
            f"Exact pairs at J >= {THRESHOLD}: {size['exact_pairs']:,}; sampled pairs for the estimate error: "
            f"{size['sample_pairs']:,}; candidate pairs across families: {size['cross_family_candidates']:,} "
            f"(highest exact J {size['cross_family_max_jaccard']:.3f}). Cosine stage on the first "
            f"{size['cosine_n']:,} articles at cosine >= {size['cosine_threshold']}.",
            "",
            "| stage | library | docs timed | median s | min s | docs/s | storyclust speed-up | peak MB | accuracy | note |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in size["rows"]:
            lib = r["task"].split(":", 1)[1]
            if "error" in r:
                lines.append(
                    f"| {r['stage']} | {lib} | | | | | | | | not measured: {r['error'][:80]} |"
                )
                continue
            if r["stage"] == "signatures":
                acc = (
                    f"Jaccard MAE {r['jaccard_mae']:.4f}, max {r['jaccard_max_error']:.3f}"
                    if "jaccard_mae" in r
                    else "n/a"
                )
            else:
                acc = f"recall {_fmt(r.get('recall'), '.4f')}, {r.get('n_pairs', 0):,} pairs"
            lines.append(
                f"| {r['stage']} | {lib} | {r['n_timed']:,} | {_fmt(r['median_s'], '.3f')} | {_fmt(r['min_s'], '.3f')} | "
                f"{_fmt(r['docs_per_s'], ',.0f')} | {_fmt(r.get('storyclust_speedup'), '.1f')}x | "
                f"{_fmt(r['peak_mb'], ',.0f')} | {acc} | {NOTES.get(r['task'], '')} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--n", type=int, action="append", help="corpus size (repeatable); default 10k and 100k"
    )
    ap.add_argument("--large", action="store_true", help="also N = 1,000,000")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sample-pairs", type=int, default=1000)
    ap.add_argument("--cosine-n", type=int, default=10_000, help="articles in the cosine stage")
    ap.add_argument("--cosine-threshold", type=float, default=0.3)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "similarity")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.workdir, args.repeats)))
        return
    sizes = args.n or [10_000, 100_000]
    if args.large:
        sizes.append(1_000_000)
    import numba

    import storyclust

    report: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "versions": {
            "storyclust": storyclust.__version__,
            "numba": numba.__version__,
            "numpy": np.__version__,
        },
        "load_start": " ".join(f"{v:.1f}" for v in os.getloadavg()),
        "settings": {
            "num_perm": NUM_PERM,
            "k": K,
            "threshold": THRESHOLD,
            "seed": args.seed,
            "repeats": args.repeats,
        },
    }
    for name in ("datasketch", "rensa", "gaoya", "sparse_dot_topn", "scikit-learn"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            report["versions"][name] = version(name)
    report["compile"] = compile_times()
    print("numba:", report["compile"], flush=True)
    report["sizes"] = [run_size(n, args) for n in sizes]
    report["load_end"] = " ".join(f"{v:.1f}" for v in os.getloadavg())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report) + "\n")
    print(markdown(report))


if __name__ == "__main__":
    main()
