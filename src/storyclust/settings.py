"""The clustering settings: defaults, validation, and their record in saved output."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from .errors import SettingsError
from .similarity import lsh_params

__all__ = ["Settings"]

_LINKAGES = ("average", "single", "complete")
_REPRESENTATIVES = ("central", "earliest", "longest")


@dataclass(frozen=True)
class Settings:
    """All settings of :func:`storyclust.cluster`, validated once.

    See :func:`storyclust.cluster` for what each one means. Two weigh headline-only
    articles (aggregator feeds): a pair where either article has at most
    ``headline_only_words`` tokens (default 20) weighs the headline similarity
    ``headline_only_weight`` (default 0.4) instead of ``headline_weight``. Groups
    linked at ``threshold`` or above (:func:`storyclust.stories.linkage_components`)
    of up to ``max_component_size`` articles (default 10,000; about 16 bytes x
    m**2 at the peak) are cut by linkage whole.
    """

    threshold: float = 0.25
    link_threshold: float = 0.1
    headline_weight: float = 0.2
    names_weight: float = 0.2
    headline_only_weight: float = 0.4
    headline_only_words: int = 20
    title_weight: int = 2
    lead_weight: int = 1
    lead_words: int = 30
    time_window_days: float = 2.0
    time_decay_days: float = 3.0
    near_duplicate_threshold: float = 0.8
    lsh_min_recall: float = 0.99
    shingle_size: int = 5
    num_perm: int = 128
    seed: int = 1
    max_neighbors: int = 50
    linkage: str = "average"
    representative: Any = "central"
    max_component_size: int = 10000
    n_keywords: int = 5
    strip_boilerplate: bool = True
    recut_size: int = 10
    recut_threshold: float = 0.15
    recut_cohesion: float = 0.06
    recut_archive: float = 3.4

    def __post_init__(self) -> None:
        # numpy numbers (a grid from np.arange, a value read from an array) as the
        # Python numbers they stand for, so they check and save as those do.
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.bool_):
                object.__setattr__(self, f.name, bool(v))
            elif isinstance(v, np.integer):
                object.__setattr__(self, f.name, int(v))
            elif isinstance(v, np.floating):  # np.float32(0.3) saves as 0.3, as written
                object.__setattr__(self, f.name, float(str(v)))
        # As saved (to_dict writes infinity as "inf"): recorded settings replay as they are.
        for name in ("time_window_days", "time_decay_days", "recut_archive"):
            v = getattr(self, name)
            if isinstance(v, str) and v.strip().lower() in ("inf", "infinity"):
                object.__setattr__(self, name, math.inf)
        rep = self.representative
        if isinstance(rep, str) and rep.startswith("callable:"):
            raise SettingsError(
                f"representative {rep!r} is how a function is saved; pass the function itself "
                "(representative=my_function) to replay these settings"
            )
        _unit("threshold", self.threshold, low_open=True)
        _unit("link_threshold", self.link_threshold, low_open=True)
        if self.link_threshold > self.threshold:
            raise SettingsError(
                f"link_threshold must be <= threshold ({self.threshold}); got {self.link_threshold}"
            )
        _unit("headline_weight", self.headline_weight, low_open=False)
        _unit("names_weight", self.names_weight, low_open=False)
        if self.headline_weight + self.names_weight > 1:
            raise SettingsError(
                "headline_weight + names_weight must be <= 1 (the rest is the TF-IDF cosine); "
                f"got {self.headline_weight} + {self.names_weight}"
            )
        _unit("headline_only_weight", self.headline_only_weight, low_open=False)
        if self.headline_only_weight + self.names_weight > 1:
            raise SettingsError(
                "headline_only_weight + names_weight must be <= 1 (the rest is the TF-IDF cosine); "
                f"got {self.headline_only_weight} + {self.names_weight}"
            )
        _unit("near_duplicate_threshold", self.near_duplicate_threshold, low_open=True)
        if not (isinstance(self.lsh_min_recall, float) and 0 < self.lsh_min_recall < 1):
            raise SettingsError(
                f"lsh_min_recall must be a float in (0, 1); got {self.lsh_min_recall!r}"
            )
        _int("title_weight", self.title_weight, 0)
        _int("lead_weight", self.lead_weight, 0)
        _int("lead_words", self.lead_words, 0)
        _int("headline_only_words", self.headline_only_words, 0)
        _int("shingle_size", self.shingle_size, 1)
        _int("num_perm", self.num_perm, 1)
        _int("seed", self.seed, 0)
        _int("max_neighbors", self.max_neighbors, 1)
        _int("max_component_size", self.max_component_size, 2)
        _int("n_keywords", self.n_keywords, 0)
        _int("recut_size", self.recut_size, 0)
        if 0 < self.recut_size < 3:
            raise SettingsError(
                "recut_size must be 0 (no re-cut) or an integer >= 3 (a story of fewer articles "
                f"has no pieces to compare); got {self.recut_size}"
            )
        _unit("recut_threshold", self.recut_threshold, low_open=True)
        _unit("recut_cohesion", self.recut_cohesion, low_open=False)
        _at_least(
            "recut_archive",
            self.recut_archive,
            1,
            "a separation; math.inf never reads the corpus as an archive",
        )
        for name in ("time_window_days", "time_decay_days"):
            _at_least(name, getattr(self, name), 0, "use math.inf to switch time off")
        if not isinstance(self.strip_boilerplate, bool):
            raise SettingsError(
                f"strip_boilerplate must be True or False; got {self.strip_boilerplate!r}"
            )
        if self.linkage not in _LINKAGES:
            raise SettingsError(f"linkage must be one of {_LINKAGES}; got {self.linkage!r}")
        rep = self.representative
        if isinstance(rep, (list, tuple)) and rep and all(isinstance(x, str) for x in rep):
            object.__setattr__(self, "representative", tuple(rep))
        elif not (callable(rep) or (isinstance(rep, str) and rep in _REPRESENTATIVES)):
            raise SettingsError(
                f"representative must be one of {_REPRESENTATIVES}, a list of outlets in order of "
                f"preference, or a callable that takes a story's articles and returns one; got {rep!r}"
            )

    @property
    def lsh_bands_rows(self) -> tuple[int, int]:
        """The LSH (bands, rows) every stage uses: a near-duplicate pair at the threshold
        becomes a candidate with probability at least ``lsh_min_recall``."""
        return lsh_params(
            self.near_duplicate_threshold, self.num_perm, min_recall=self.lsh_min_recall
        )

    @classmethod
    def check_names(cls, names: Iterable[str], also: Sequence[str] = ()) -> None:
        """Raise SettingsError naming any of `names` that is not a setting (nor in `also`)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(names) - known - set(also))
        if unknown:
            extra = f", and {', '.join(also)}" if also else ""
            raise SettingsError(
                f"unknown setting(s) {', '.join(map(repr, unknown))}; known settings: "
                f"{', '.join(sorted(known))}{extra}"
            )

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> Settings:
        """Build settings from keyword arguments, naming any unknown one."""
        cls.check_names(kwargs)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict (infinite values as the string "inf")."""
        out: dict[str, Any] = {}
        for k, v in asdict(self).items():
            if isinstance(v, float) and math.isinf(v):
                v = "inf"
            elif callable(v):
                v = f"callable:{getattr(v, '__qualname__', type(v).__name__)}"
            elif isinstance(v, tuple):
                v = list(v)
            out[k] = v
        return out


def _unit(name: str, v: object, *, low_open: bool) -> None:
    """Check that `v` is a number in (0, 1] (or [0, 1])."""
    ok = (
        isinstance(v, (int, float))
        and not isinstance(v, bool)
        and (0 < v <= 1 if low_open else 0 <= v <= 1)
    )
    if not ok:
        rng = "(0, 1]" if low_open else "[0, 1]"
        raise SettingsError(f"{name} must be a number in {rng}; got {v!r}")


def _at_least(name: str, v: object, low: float, hint: str) -> None:
    """Check that `v` is a number >= `low` (infinity included, NaN not)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= low:
        raise SettingsError(f"{name} must be a number >= {low:g} ({hint}); got {v!r}")


def _int(name: str, v: object, low: int) -> None:
    """Check that `v` is an int >= `low`."""
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise SettingsError(f"{name} must be an integer >= {low}; got {v!r}")
