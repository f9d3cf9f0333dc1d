"""Pipeline: analyse a video file (pure) and commit the analysis to the store."""
