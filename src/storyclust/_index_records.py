"""The records :class:`storyclust.StoryIndex` returns: Assignment, StoryMatch, StoryEvent.

Private: their public home is :mod:`storyclust.index`, which re-exports them and
names itself as their module, so that ``help``, the classes' ``repr`` and their
doctests (which use ``StoryIndex``) are as if they were defined there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["Assignment", "StoryEvent", "StoryMatch"]


@dataclass(frozen=True)
class Assignment:
    """Where :meth:`StoryIndex.add` put one article.

    Attributes
    ----------
    article_id : str
    story_id : int
        The article's story once it was processed (after any merge or split).
    new_story : bool
        True if the article opened a new story.
    score : float
        The story score that decided: the linkage score with the story it joined,
        or, for a new story, the best score it had with any story (0.0 if none).
    link : dict or None
        The strongest link from the article into the story it joined, with every
        signal (keys as in :attr:`storyclust.StoryResult.links`); None for a new
        story.
    merged : tuple of int
        Stories merged into another because this article bridged them, each once.
    split : tuple of int
        Stories that received a part split off a story when it was re-cut, each
        once (:meth:`StoryIndex.events` lists every part).

    Examples
    --------
    >>> a = StoryIndex().add([{"id": "x", "title": "Quake hits Tokyo"}])[0]
    >>> a.article_id, a.story_id, a.new_story, a.link
    ('x', 0, True, None)
    """

    article_id: str
    story_id: int
    new_story: bool
    score: float
    link: dict[str, Any] | None = None
    merged: tuple[int, ...] = ()
    split: tuple[int, ...] = ()


@dataclass(frozen=True)
class StoryMatch:
    """A story an article is close to (:meth:`StoryIndex.query`).

    Attributes
    ----------
    story_id : int
    score : float
        Linkage score of the article with the story.
    n_compared : int
        Members of the story the article was scored against.
    link : dict
        The strongest link from the article into the story, with every signal.

    Examples
    --------
    >>> index = StoryIndex()
    >>> _ = index.add([{"id": "a", "title": "Quake of magnitude 7.1 hits Tokyo"}])
    >>> match = index.query({"id": "b", "title": "Magnitude 7.1 quake hits Tokyo"})[0]
    >>> match.story_id, match.n_compared, match.link["b"]
    (0, 1, 'a')
    """

    story_id: int
    score: float
    n_compared: int
    link: dict[str, Any]


@dataclass(frozen=True)
class StoryEvent:
    """A change to stories other than an article joining one.

    Attributes
    ----------
    seq : int
        Position in the index's event log (increasing).
    kind : {"merge", "split"}
        ``"merge"``: story `other_id` was merged into `story_id` (the older one)
        and its id now refers to `story_id`. ``"split"``: a part of `story_id` that
        no longer belonged moved to `other_id` (a new story, or one it belongs
        with).
    story_id : int
    other_id : int
    article_id : str
        The article whose arrival caused it.
    score : float
        Linkage score between the two parts.
    time : datetime
        When it happened (UTC, wall clock).

    Examples
    --------
    >>> glacier = "alpine glacier melt accelerates across swiss valleys this summer"
    >>> reef = "coral reef bleaching spreads along the australian coast this summer"
    >>> index = StoryIndex()
    >>> _ = index.add([glacier, reef, glacier + " " + reef])
    >>> [(e.kind, e.story_id, e.other_id, e.article_id) for e in index.events()]
    [('merge', 0, 1, '2')]
    """

    seq: int
    kind: str
    story_id: int
    other_id: int
    article_id: str
    score: float
    time: datetime
