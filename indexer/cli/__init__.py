"""The ``reelsearch`` command line."""
