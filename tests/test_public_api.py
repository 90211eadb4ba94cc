"""tapelab/__init__.py: the public API, one sorted list, loaded lazily."""

import subprocess
import sys
import typing

import tapelab


def test_all_is_one_sorted_list_and_every_name_loads():
    assert tapelab.__all__ == sorted(set(tapelab.__all__))
    assert set(tapelab.__all__) <= set(dir(tapelab))
    assert {"jacrev", "jacfwd", "LayerSelection"} <= set(tapelab.__all__)
    for name in tapelab.__all__:
        assert getattr(tapelab, name) is not None, name


def test_the_layers_argument_has_one_alias():
    assert slice in typing.get_args(tapelab.LayerSelection)
    for helper in (tapelab.select_layers, tapelab.trainable_variables, tapelab.fine_tune_step,
                   tapelab.fine_tune, tapelab.per_example_gradients):
        assert helper.__annotations__["layers"] == "LayerSelection", helper.__name__


def test_importing_tapelab_does_not_import_tensorflow():
    code = "import sys, tapelab; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_tests_mirror_the_modules_of_the_fine_tuning_engine():
    """Each module of tapelab/fine_tuning/ has tests/fine_tuning/test_<module>.py."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    modules = {p.stem for p in (root / "tapelab" / "fine_tuning").glob("*.py")} - {"__init__"}
    tested = {p.stem[len("test_"):] for p in (root / "tests" / "fine_tuning").glob("test_*.py")}
    assert modules <= tested, sorted(modules - tested)
