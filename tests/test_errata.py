"""`tapelab errata` re-checks the seed's claims live, offline."""

import subprocess
import sys

import pytest

from tapelab.errata import FAILS, HOLDS, OFFLINE, WRONG, format_table, run_all
from tapelab.tf_logs import TF_LOG_LINE


@pytest.fixture(scope="module")
def rows():
    return {row.claim: row for row in run_all()}


@pytest.mark.slow  # the module fixture runs every errata check (ResNet50 included)
@pytest.mark.parametrize("claim, verdict, observed", [
    ("d/dx (x**2 + 2x + 1) at x=5", WRONG, "12.0"),
    ("d/dx x**2 at x=3", HOLDS, "6.0"),
    ("watch(t) gives a gradient for unused t", WRONG, "None"),
    ("tape.watch(layer.weights)", FAILS, "ValueError"),
    ("layers[-3:] are 3 layers to train", WRONG, "2 have no weights"),
    ("grad of softmax output trains", WRONG, "sum = 1.0000"),
    ("per-layer apply_gradients", FAILS, "ValueError on weightless 1st layer"),
    ("ResNet50(weights='imagenet')", OFFLINE, "download"),
    ("persistent: dy/dx, dz/dx at 3", HOLDS, "6.0 and 108.0"),
    ("2nd gradient() needs persistent", HOLDS, "RuntimeError"),
    ("watch() picks what the tape records", WRONG, "watched 214 of 214"),
])
def test_each_claim_gets_the_right_verdict(rows, claim, verdict, observed):
    assert rows[claim].verdict == verdict
    assert observed in rows[claim].tf_does


def test_table_has_one_row_per_claim(rows):
    table = format_table(list(rows.values())).splitlines()
    assert table[0].split()[:3] == ["seed", "claim", "seed"]
    assert len(table) == 2 + len(rows)
    assert max(map(len, table)) <= 130


@pytest.mark.slow  # a new process imports TensorFlow and runs ResNet50
def test_cli_prints_the_table():
    result = subprocess.run([sys.executable, "-m", "tapelab", "errata"], capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0
    assert "d/dx (x**2 + 2x + 1) at x=5" in result.stdout
    assert "11 seed claims checked: 3 hold, 8 do not." in result.stdout
    assert "Downloading data" not in result.stdout
    assert not TF_LOG_LINE.search(result.stderr), result.stderr  # C++ log lines filtered
