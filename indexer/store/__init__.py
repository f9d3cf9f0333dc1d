"""Store: the only place that writes SQL or FAISS; the Store facade is its API."""

from indexer.store.catalog import NewVideo, SegmentRecord, VideoRecord
from indexer.store.facade import Store

__all__ = ["NewVideo", "SegmentRecord", "Store", "VideoRecord"]
