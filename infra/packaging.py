"""Build the third-party layer of the light functions, as `cdk deploy` ships it."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIGHT_REQUIREMENTS = ROOT / "layers" / "requirements" / "light.txt"
LIGHT_LAYER = ROOT / "build" / "layers" / "light"
LAMBDA_PYTHON = "3.14"


def build_light_layer(force: bool = False) -> Path:
    """pip-install the light requirements for Lambda's platform into build/layers/light/python, trimmed.

    Builders may run at once (test workers, a synth beside a deploy): a lock serialises them, and each builds in a
    fresh folder that replaces the layer in one rename, so nobody ever sees a half-built layer.
    """
    wanted = LIGHT_REQUIREMENTS.read_text()
    LIGHT_LAYER.parent.mkdir(parents=True, exist_ok=True)
    with open(LIGHT_LAYER.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = LIGHT_LAYER / ".requirements"
        if not force and stamp.exists() and stamp.read_text() == wanted:
            return LIGHT_LAYER
        staging = Path(tempfile.mkdtemp(prefix="light-", dir=LIGHT_LAYER.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; Lambda's runtime user must read the layer
        target = staging / "python"
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
             "--target", str(target), "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux2014_x86_64",
             "--only-binary=:all:", "--python-version", LAMBDA_PYTHON, "--implementation", "cp",
             "-r", str(LIGHT_REQUIREMENTS)],
            check=False, capture_output=True, text=True,
        )
        if result.returncode:
            shutil.rmtree(staging, ignore_errors=True)
            raise RuntimeError(f"building the light layer failed:\n{result.stdout}\n{result.stderr}")
        # Lambda never needs these: byte code is rebuilt at import, tests and stubs are dead weight.
        for folder, subfolders, files in os.walk(target):
            for name in [d for d in subfolders if d in ("__pycache__", "tests")]:
                shutil.rmtree(Path(folder) / name)
                subfolders.remove(name)
            for name in files:
                if name.endswith(".pyi"):
                    (Path(folder) / name).unlink()
        (staging / ".requirements").write_text(wanted)
        shutil.rmtree(LIGHT_LAYER, ignore_errors=True)
        os.replace(staging, LIGHT_LAYER)
        return LIGHT_LAYER


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


if __name__ == "__main__":
    print(build_light_layer(force="--force" in sys.argv))
