"""Words in videos: on-screen text (OCR) and speech (ASR), as extractors of the analysis step.

:func:`indexer.cli.words.word_extractors` registers them with :mod:`indexer.pipeline.extractors`
for an ``index`` run (OCR in a thread of its own); their results
arrive in ``Analysis.extracted["text"]`` (:class:`~indexer.words.onscreen.TextTrack`) and
``Analysis.extracted["speech"]`` (:class:`~indexer.types.Speech`).
"""
