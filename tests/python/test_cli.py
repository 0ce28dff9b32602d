from __future__ import annotations

import subprocess
import sys

import pytest

import ndbridge
from ndbridge.__main__ import main


def test_demo_packs_lists_verifies_and_reads_back(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "all checks passed" in out
    assert "DIFFERENT" not in out and "FAILED" not in out
    assert "packed 24 images, skipped 1" in out
    assert "8 identical -- all identical" in out
    assert "identical to the PNG files" in out
    assert out.count("      identical") >= 9  # the sample-array table


def test_version_comes_from_the_cmake_project(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"ndbridge {ndbridge.__version__}"
    assert ndbridge.__version__.count(".") == 2


def test_unknown_command_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_console_script_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ndbridge", "demo"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "all checks passed" in result.stdout
