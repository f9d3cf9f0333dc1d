"""Words in videos: on-screen text (OCR) and speech (ASR), as extractors of the analysis step.

:func:`register_word_extractors` plugs them into :mod:`indexer.pipeline.extractors`; their results
arrive in ``Analysis.extracted["text"]`` (:class:`~indexer.words.onscreen.TextTrack`) and
``Analysis.extracted["speech"]`` (:class:`~indexer.types.Speech`).
"""
