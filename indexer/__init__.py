"""reelsearch indexer: sample frames, embed them, label scenes, and keep it all in a store.

Lowest layer of reelsearch; nothing here imports from ``search`` or ``web``.
"""

__version__ = "0.1.0"
