"""Models: the Encoder protocol, plug-in loading, the open_clip encoder and the colour encoder."""
