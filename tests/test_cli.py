"""The ``skl-snapshot`` command (``python -m skl_snapshot``): its figures and
its errors."""

import pytest

from skl_snapshot._cli import main

pytest.importorskip("matplotlib")


def test_command_writes_both_figures(tmp_path, capsys):
    output = tmp_path / "figures"
    status = main(["--epochs", "20", "--cycles", "4", "--output-dir", str(output)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "ensemble of the newest k" in printed
    for name in ("ensemble_size.png", "learning_rate.png"):
        assert (output / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert str(output / name) in printed


def test_command_reports_bad_options(capsys):
    assert main(["--epochs", "3", "--cycles", "5"]) == 2
    assert "epochs must be >= n_cycles" in capsys.readouterr().err
