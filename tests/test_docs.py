"""The documentation builds with warnings as errors, running every example."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("sphinx")
pytest.importorskip("sphinx_gallery")
pytest.importorskip("numpydoc")
pytest.importorskip("pydata_sphinx_theme")


def test_docs_build_without_warnings(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(ROOT / "docs"),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "MPLBACKEND": "Agg",
            # a shorter repeated evaluation: the example's logic, fewer seeds
            "SKL_SNAPSHOT_EXAMPLE_SEEDS": os.environ.get(
                "SKL_SNAPSHOT_EXAMPLE_SEEDS", "5"
            ),
        },
        timeout=1500,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    assert (tmp_path / "html" / "auto_examples" / "index.html").exists()
    assert (tmp_path / "html" / "generated").is_dir()
    # the HTML repr's links point at pages this build makes
    from skl_snapshot import SnapshotEnsembleClassifier, SnapshotEnsembleRegressor
    from skl_snapshot._base import DOCS_URL

    for Estimator in (SnapshotEnsembleClassifier, SnapshotEnsembleRegressor):
        link = Estimator()._get_doc_link()
        assert link.startswith(DOCS_URL)
        assert (tmp_path / "html" / link.removeprefix(DOCS_URL)).is_file(), link
