"""The worked-example notebooks run from top to bottom, and are committed without outputs.

Each notebook in notebooks/ is executed with nbclient on a "python3" kernel whose working
directory is the repository root (the notebooks name their files relative to it). The kernel is
this interpreter's ipykernel: the test writes a kernelspec for ``sys.executable`` and puts it
first on JUPYTER_PATH, so a "python3" kernelspec installed elsewhere on the machine (another
Python without securitize) cannot be picked up instead.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from nbclient import NotebookClient

from tests.conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "python3"
CELL_TIMEOUT = 300


@pytest.fixture(scope="module")
def this_interpreters_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A "python3" kernelspec that runs ``sys.executable -m ipykernel_launcher``."""
    folder = tmp_path_factory.mktemp("jupyter")
    write_kernel_spec(folder / "kernels" / KERNEL)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(folder))
        patch.setenv("IPYTHONDIR", str(folder / "ipython"))
        patch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        yield


def execute(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(ROOT)}},
    )
    return client.execute()


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 3


def test_the_kernel_is_this_interpreter(this_interpreters_kernel: None) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(
        nbformat.v4.new_code_cell("import os, sys\nprint(sys.executable)\nprint(os.getcwd())")
    )
    output = execute(notebook).cells[0].outputs[0]["text"].splitlines()
    assert Path(output[0]).resolve() == Path(sys.executable).resolve()
    assert Path(output[1]).resolve() == ROOT.resolve()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {index} has outputs; clear them"
            assert cell.execution_count is None, f"{path.name}: cell {index} has a count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_without_errors(path: Path, this_interpreters_kernel: None) -> None:
    # nbclient raises CellExecutionError (with the cell's traceback) at the first failing cell.
    executed = execute(nbformat.read(path, as_version=4))
    errors = [
        (index, output.get("ename"), output.get("evalue"))
        for index, cell in enumerate(executed.cells)
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors, f"{path.name}: {errors}"
