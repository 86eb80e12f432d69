"""Local files written whole. Only the standard library: the light functions' modules import it."""

from __future__ import annotations

import os
from pathlib import Path


def replace_file(path: Path, content: bytes) -> None:
    """Write ``content`` aside, then move it over ``path``: a reader sees the old file or the new one, never half of
    one."""
    temporary = path.with_name(f".{path.name}.writing")
    temporary.write_bytes(content)
    os.replace(temporary, path)
