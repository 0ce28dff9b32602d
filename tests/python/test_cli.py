from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
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


def test_the_parser_imports_no_command_s_dependencies() -> None:
    # Every command registers its options at start-up; the heavy modules
    # (h5py, Pillow, dask) load only when a command that needs them runs.
    code = (
        "import sys\n"
        "from ndbridge.__main__ import _build_parser\n"
        "_build_parser()\n"
        "print(sorted(m for m in ('h5py', 'PIL', 'dask', 'imageio') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_readme_documents_every_option() -> None:
    """Each command's section of the README's "Commands" names every option it takes."""
    import argparse
    import re

    from ndbridge.__main__ import _build_parser

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    assert "`ndbridge --version`" in section
    blocks = dict(re.findall(r"### `ndbridge (\w+)[^`]*`\n(.*?)(?=\n### |\Z)", section, re.S))
    (commands,) = [a for a in _build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(blocks) == set(commands.choices)
    for name, parser in commands.choices.items():
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert re.search(re.escape(option) + r"(?![\w-])", blocks[name]), (name, option)


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


@pytest.mark.parametrize("command", ["ls", "convert", "verify"])
@pytest.mark.parametrize("suffix", [".npz", ".h5"])
def test_damaged_files_give_one_line_never_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, suffix: str
) -> None:
    # Cut and flipped copies of a good file: whatever numpy, h5py and the C++
    # reader make of them, each command ends with its output or one line,
    # exit 0 or 1.
    arrays = {"i4": np.arange(100, dtype="<i4"), "f8": np.linspace(0, 1, 30).reshape(5, 6),
              "b1": np.array([True, False]), "c16": np.array([1 + 2j, 3])}  # fmt: skip
    good = tmp_path / f"good{suffix}"
    if suffix == ".npz":
        np.savez(good, **arrays)
    else:
        with h5py.File(good, "w") as f:
            for name, value in arrays.items():
                f[f"g/{name}" if name == "c16" else name] = value
    data = good.read_bytes()
    rng = np.random.default_rng(5)
    bad = tmp_path / f"bad{suffix}"
    extra = [str(tmp_path / ("out.h5" if suffix == ".npz" else "out.npz")), "--force"]
    for trial in range(40):
        damaged = bytearray(data[: int(rng.integers(8, len(data)))] if trial % 2 else data)
        for at in rng.integers(0, len(damaged), 8):
            damaged[at] ^= 0xFF
        bad.write_bytes(bytes(damaged))
        status = main([command, str(bad), *(extra if command == "convert" else [])])
        out, err = capsys.readouterr()
        assert status in (0, 1), (trial, out, err)
        if err:
            assert len(err.strip().splitlines()) == 1 and str(bad) in err, (trial, err)
