"""The crosscheck (scripts/crosscheck.py): each level's variables reach the chapters' kernels, and a
cell whose text depends on them is reported; a stable one passes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("crosscheck", ROOT / "scripts" / "crosscheck.py")
crosscheck = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(crosscheck)


def test_each_level_narrows_every_library_the_book_computes_with():
    for level, variables in crosscheck.LEVELS.items():
        assert set(variables) == {"ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS",
                                  "OPENBLAS_CORETYPE"}, level
    assert crosscheck.LEVELS["sse4"]["ATEN_CPU_CAPABILITY"] == "default"
    environment = crosscheck.level_environment("avx2", {"PATH": "/bin", "OPENBLAS_L2_SIZE": "1048576",
                                                        "ATEN_CPU_CAPABILITY": "avx512"})
    assert environment == {"PATH": "/bin", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                           "MKL_ENABLE_INSTRUCTIONS": "AVX2", "OPENBLAS_CORETYPE": "Haswell"}
    with pytest.raises(KeyError, match="avx2, sse4"):
        crosscheck.level_environment("avx1024")


def _notebook(path: Path, source: str, stored: str) -> str:
    cell = nbformat.v4.new_code_cell(source, execution_count=1,
                                     outputs=[nbformat.v4.new_output("stream", name="stdout", text=stored)])
    notebook = nbformat.v4.new_notebook(cells=[cell])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return str(path)


def test_a_cell_that_prints_what_the_cpu_offers_is_caught_and_a_stable_one_passes(tmp_path, capsys):
    # The stored text says "native"; under the avx2 level the kernel sees the variable and prints "avx2".
    fragile = _notebook(tmp_path / "fragile.ipynb",
                        'import os\nprint(os.environ.get("ATEN_CPU_CAPABILITY", "native"))', "native\n")
    stable = _notebook(tmp_path / "stable.ipynb", "print(6 * 7)", "42\n")
    assert crosscheck.main(["--level", "avx2", fragile, stable]) == 1
    table = capsys.readouterr().out.split("Crosscheck:")[1]
    assert "avx2   fragile.ipynb" in table and "DIFFERS in 1 cell(s)" in table
    assert "avx2   stable.ipynb" in table and "stable.ipynb                             same text" in table


def test_a_missing_notebook_is_named():
    with pytest.raises(SystemExit):
        crosscheck.main(["notebooks/99_no_such_chapter.ipynb"])
