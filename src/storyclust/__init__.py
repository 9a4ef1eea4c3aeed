"""storyclust: group reports of the same news story from different outlets into stories."""

from . import metrics, plot
from .articles import Article, Articles, LoadReport, SkippedRecord, to_articles
from .errors import InputError, InputTypeError, SettingsError, StoryclustError
from .features import find_boilerplate
from .index import Assignment, IndexStory, StoryEvent, StoryIndex, StoryMatch
from .io import read_articles, read_csv, read_jsonl, write_jsonl
from .minhash import shingles, signatures, to_datasketch
from .pages import split_page
from .pipeline import StoryClusterer, cluster
from .result import Story, StoryResult
from .text import char_shingles, names_and_numbers, normalize, tokenize, word_shingles

__version__ = "0.1.0"

__all__ = [
    "Article",
    "Articles",
    "Assignment",
    "IndexStory",
    "InputError",
    "InputTypeError",
    "LoadReport",
    "SettingsError",
    "SkippedRecord",
    "Story",
    "StoryClusterer",
    "StoryEvent",
    "StoryIndex",
    "StoryMatch",
    "StoryResult",
    "StoryclustError",
    "__version__",
    "char_shingles",
    "cluster",
    "find_boilerplate",
    "metrics",
    "names_and_numbers",
    "normalize",
    "plot",
    "read_articles",
    "read_csv",
    "read_jsonl",
    "shingles",
    "signatures",
    "split_page",
    "to_articles",
    "to_datasketch",
    "tokenize",
    "word_shingles",
    "write_jsonl",
]
