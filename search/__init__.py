"""Scene search over the reelsearch store (the layer between ``indexer`` and ``web``).

- :mod:`search.query`: query syntax (``"beach" + 0.5 "sunset" -night``) and the query vector.
- :mod:`search.cutoff`: which frames count as a match (relative to a background, not a cosine).
- :mod:`search.scenes`: matching frames of one video grouped into scenes snapped to shot cuts.
- :mod:`search.filters`: category / restricted / duration / video filters.
- :mod:`search.engine`: :class:`~search.engine.SearchEngine` tying them to the store.
- :mod:`search.cli`: the ``reelsearch search`` command.

Nothing here imports torch or faiss at import time.
"""

from .engine import SearchEngine
from .filters import Filters
from .query import ParsedQuery, parse_query
from .results import SearchResponse, VideoResult
from .scenes import Scene

__all__ = ["Filters", "ParsedQuery", "Scene", "SearchEngine", "SearchResponse", "VideoResult", "parse_query"]
