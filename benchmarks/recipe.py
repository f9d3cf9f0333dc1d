"""The "every 10th frame" recipe every benchmark compares indexing with (the one copy of it).

What a user writes first: decode every frame with PyAV (frame threads), keep every 10th, round
trip it through JPEG and PIL, open_clip's own preprocess, batch-1 CLIP image embedding in fp32,
scores against two prompts. :func:`recipe_seconds` times it in-process over loaded parts;
run as a script it is the recipe's whole command (imports, model, then the files), which
``benchmarks/bench_cli.py`` times in a fresh process:

    python benchmarks/recipe.py VIDEO_OR_FOLDER [PRETRAINED]   # PRETRAINED: a tag or checkpoint file; '' random
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path
from typing import Any, Iterable

MODEL = "ViT-B-32"


def recipe_parts(pretrained: str | None = None) -> tuple[Any, Any, Any]:
    """The recipe's model (eval mode), open_clip preprocess and two normalised prompt vectors."""
    import open_clip
    import torch

    model, _, preprocess = open_clip.create_model_and_transforms(MODEL, pretrained=pretrained or None)
    model.eval()
    tokenizer = open_clip.get_tokenizer(MODEL)
    with torch.no_grad():
        texts = model.encode_text(tokenizer(["a construction site", "something else"]))
        texts = texts / texts.norm(dim=-1, keepdim=True)
    return model, preprocess, texts


def recipe_seconds(paths: Iterable[Path], model: Any, preprocess: Any, texts: Any) -> float:
    """Wall seconds of the recipe over ``paths`` with loaded parts (see :func:`recipe_parts`)."""
    import av
    import torch
    from PIL import Image

    start = time.perf_counter()
    for path in paths:
        with av.open(str(path)) as container, torch.no_grad():
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for i, frame in enumerate(container.decode(stream)):
                if i % 10:
                    continue
                buf = io.BytesIO()
                frame.to_image().save(buf, format="JPEG", quality=90)
                image = preprocess(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).unsqueeze(0)
                feats = model.encode_image(image)
                feats = feats / feats.norm(dim=-1, keepdim=True)
                (100.0 * feats @ texts.T).softmax(dim=-1)
    return time.perf_counter() - start


def videos(target: Path) -> list[Path]:
    """``target`` itself, or the .mp4 files of a folder in name order."""
    return sorted(target.glob("*.mp4")) if target.is_dir() else [target]


if __name__ == "__main__":
    recipe_seconds(videos(Path(sys.argv[1])), *recipe_parts(sys.argv[2] if len(sys.argv) > 2 else None))
