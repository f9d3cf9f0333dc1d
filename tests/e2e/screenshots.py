"""Where the browser tests save what users see: ``artifacts/screenshots/<page>.png``.

The path is relative to the repository root so CI can publish the folder as an artifact.
"""

from __future__ import annotations

from pathlib import Path

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def screenshot(tab, name: str) -> Path:
    """Save the tab's viewport (1280x800, or 390x844 for ``*-phone``) as
    ``artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    tab.screenshot(path=str(path))
    return path
