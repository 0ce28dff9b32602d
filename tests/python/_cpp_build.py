"""Where the C++ side of the tests comes from: an installed ndbridge and its tools.

``scripts/test`` builds and installs the C++ library before pytest runs and
says where through two environment variables; run on its own, pytest builds
what it needs (once per session) or skips when there is no C++ tool chain.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFIX_ENV = "NDBRIDGE_CPP_PREFIX"  # an install prefix of the C++ library
TOOLS_ENV = "NDBRIDGE_TOOLS_DIR"  # the folder holding ndbridge-ls and ndbridge-cat


def run(*command: str | os.PathLike[str]) -> None:
    """Run a command, failing the test with its output if it fails."""
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} failed:\n{result.stdout}\n{result.stderr}")


def cmake_build(source: Path, binary: Path, *defines: str) -> None:
    """Configure and build a CMake project with Ninja (if present), two jobs at most."""
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    run("cmake", "-S", source, "-B", binary, *generator, "-DCMAKE_BUILD_TYPE=Release", *defines)
    run("cmake", "--build", binary, "-j2")


def installed_prefix(workdir: Path) -> Path:
    """An install prefix of the C++ library: $NDBRIDGE_CPP_PREFIX, or a fresh build."""
    given = os.environ.get(PREFIX_ENV)
    if given and (Path(given) / "lib/cmake/ndbridge/ndbridgeConfig.cmake").is_file():
        return Path(given)
    binary, prefix = workdir / "ndbridge-build", workdir / "ndbridge-prefix"
    cmake_build(ROOT, binary, "-DNDBRIDGE_BUILD_TESTS=OFF")
    run("cmake", "--install", binary, "--prefix", prefix)
    return prefix


def tools_dir(workdir: Path) -> Path:
    """The folder of ndbridge-ls and ndbridge-cat: $NDBRIDGE_TOOLS_DIR, or an installed bin/."""
    given = os.environ.get(TOOLS_ENV)
    if given and (Path(given) / "ndbridge-ls").is_file():
        return Path(given)
    return installed_prefix(workdir) / "bin"
