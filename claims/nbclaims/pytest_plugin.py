"""``pytest --check-claims``: one test item per ``# Output:`` claim of every collected notebook.

Claims are held against the notebook's stored outputs by default, the same
check as the ``check-claims`` command, with no kernel. With
``--check-claims-outputs=executed`` each notebook is first run once (nbclient,
its own kernelspec) and its claims are held against the fresh outputs.

Beside ``--nbval``: nbval runs each notebook and compares the fresh outputs
with the stored ones, while this plugin checks that the stored outputs say
what the comments claim. Together they hold the comments to fresh outputs,
with one run of each notebook.
"""

import pytest

from nbclaims.claim import NotebookError, claims_in, read_notebook


def pytest_addoption(parser):
    group = parser.getgroup("check-claims", "check `# Output:` comments of notebooks")
    group.addoption("--check-claims", action="store_true", default=False,
                    help="collect one test per `# Output:` claim of every .ipynb file")
    group.addoption("--check-claims-outputs", choices=("stored", "executed"), default="stored",
                    help="hold claims against the notebooks' stored outputs (default) or "
                         "against outputs of a fresh run (needs nbclaims[execute])")
    group.addoption("--check-claims-timeout", type=float, default=600, metavar="SECONDS",
                    help="with --check-claims-outputs=executed: seconds a cell may run "
                         "(default 600)")


def pytest_collect_file(file_path, parent):
    if parent.config.getoption("check_claims") and file_path.suffix == ".ipynb":
        return ClaimsFile.from_parent(parent, path=file_path)
    return None


class ClaimFailed(Exception):
    """A claim that does not hold; its message is the report."""


def _item_name(claim, seen):
    text = claim.text if len(claim.text) <= 60 else claim.text[:59] + "…"
    name = f"cell {claim.cell} [{text.replace('::', ': :')}]" if claim.text else \
        f"cell {claim.cell} [{'unreadable' if claim.unreadable else 'empty'}]"
    seen[name] = seen.get(name, 0) + 1
    return name if seen[name] == 1 else f"{name} #{seen[name]}"


class ClaimsFile(pytest.File):
    """A notebook's claims; with executed outputs, it runs the notebook once for all of them."""

    _executed = None  # the claims held against fresh outputs, once run

    def collect(self):
        try:
            found = claims_in(read_notebook(self.path), str(self.path))
        except NotebookError as exc:
            yield NotebookItem.from_parent(self, name="notebook", reason=str(exc))
            return
        seen = {}
        for index, claim in enumerate(found):
            yield ClaimItem.from_parent(self, name=_item_name(claim, seen), claim=claim,
                                        index=index)

    def executed_claims(self):
        if self._executed is None:
            from nbclaims.execute import execute

            nb = read_notebook(self.path)
            fresh = execute(nb, self.path, self.config.getoption("check_claims_timeout"))
            self._executed = claims_in(fresh, str(self.path))
        return self._executed


class NotebookItem(pytest.Item):
    """A notebook that cannot be read: one failing item that says why."""

    def __init__(self, *, reason, **kwargs):
        super().__init__(**kwargs)
        self.reason = reason

    def runtest(self):
        raise ClaimFailed(f"{self.path}: not a valid notebook: {self.reason}")

    def repr_failure(self, excinfo):
        if excinfo.errisinstance(ClaimFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}: not a valid notebook"


class ClaimItem(pytest.Item):
    """One ``# Output:`` claim: passes when it holds, fails with the claim and the output."""

    def __init__(self, *, claim, index, **kwargs):
        super().__init__(**kwargs)
        self.claim, self.index = claim, index

    def runtest(self):
        claim = self.claim
        if self.config.getoption("check_claims_outputs") == "executed":
            claim = self.parent.executed_claims()[self.index]
        if not claim.holds:
            raise ClaimFailed(claim.report())

    def repr_failure(self, excinfo):
        if excinfo.errisinstance(ClaimFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}: cell {self.claim.cell}: {self.name}"
