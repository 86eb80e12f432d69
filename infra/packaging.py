"""Build the third-party layer of the light functions, as `cdk deploy` ships it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIGHT_REQUIREMENTS = ROOT / "layers" / "requirements" / "light.txt"
LIGHT_LAYER = ROOT / "build" / "layers" / "light"
LAMBDA_PYTHON = "3.14"


def build_light_layer(force: bool = False) -> Path:
    """pip-install the light requirements for Lambda's platform into build/layers/light/python, trimmed."""
    stamp = LIGHT_LAYER / ".requirements"
    wanted = LIGHT_REQUIREMENTS.read_text()
    if not force and stamp.exists() and stamp.read_text() == wanted:
        return LIGHT_LAYER
    shutil.rmtree(LIGHT_LAYER, ignore_errors=True)
    target = LIGHT_LAYER / "python"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "--target", str(target), "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux2014_x86_64",
         "--only-binary=:all:", "--python-version", LAMBDA_PYTHON, "--implementation", "cp",
         "-r", str(LIGHT_REQUIREMENTS)],
        check=False, capture_output=True, text=True,
    )
    if result.returncode:
        raise RuntimeError(f"building the light layer failed:\n{result.stdout}\n{result.stderr}")
    # Lambda never needs these: byte code is rebuilt at import, tests and stubs are dead weight.
    for pattern in ("**/__pycache__", "**/tests", "**/*.pyi"):
        for path in sorted(target.glob(pattern), reverse=True):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    stamp.write_text(wanted)
    return LIGHT_LAYER


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


if __name__ == "__main__":
    print(build_light_layer(force="--force" in sys.argv))
