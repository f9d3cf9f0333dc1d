"""Media: the only place that reads video files (PyAV): probe, decode, cuts, sampling, thumbnails."""
