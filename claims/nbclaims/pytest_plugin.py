"""``pytest --check-claims``: one test item per ``# Output:`` claim of every collected notebook;
``pytest --check-prose``: one item per notebook that holds its prose to its outputs.

Claims are held against the notebook's stored outputs by default, the same
check as the ``check-claims`` command, with no kernel. With
``--check-claims-outputs=executed`` each notebook is first run once (nbclient,
its own kernelspec) and its claims are held against the fresh outputs; a run
that stops (a timeout, a missing kernel) fails the claims it did not reach,
each with one line that says why.

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
    group.addoption("--check-prose", action="store_true", default=False,
                    help="collect one test per .ipynb file that holds its markdown's figures "
                         "and verdicts to its stored outputs (the prose rule)")
    group.addoption("--check-claims-timeout", type=float, default=600, metavar="SECONDS",
                    help="with --check-claims-outputs=executed: seconds a cell may run "
                         "(default 600)")


def pytest_configure(config):
    if config.getoption("check_claims") and \
            config.getoption("check_claims_outputs") == "executed":
        try:
            import nbclient  # noqa: F401
        except ImportError:
            raise pytest.UsageError(
                "--check-claims-outputs=executed runs each notebook, which needs nbclient "
                "and a kernel: pip install 'nbclaims[execute]'") from None
        if not config.getoption("check_claims_timeout") > 0:
            raise pytest.UsageError("--check-claims-timeout must be a positive number of "
                                    "seconds. Received: "
                                    f"{config.getoption('check_claims_timeout')}")


def pytest_collect_file(file_path, parent):
    config = parent.config
    if (config.getoption("check_claims") or config.getoption("check_prose")) and \
            file_path.suffix == ".ipynb":
        return ClaimsFile.from_parent(parent, path=file_path)
    return None


class ClaimFailed(Exception):
    """A claim that does not hold; its message is the report."""


def _item_name(claim, seen):
    if claim.text:
        text = claim.text if len(claim.text) <= 60 else claim.text[:59] + "…"
        name = f"cell {claim.cell} [{text.replace('::', ': :')}]"
    else:
        kind = "unreadable" if claim.unreadable else "malformed" if claim.malformed else "empty"
        name = f"cell {claim.cell} ({kind} claim)"
    seen[name] = seen.get(name, 0) + 1
    return name if seen[name] == 1 else f"{name} #{seen[name]}"


class ClaimsFile(pytest.File):
    """A notebook's claims; with executed outputs, it runs the notebook once for all of them."""

    _run = None  # (claims held against fresh outputs, why the run stopped or ""), once run

    def collect(self):
        try:
            nb = read_notebook(self.path)
        except NotebookError as exc:
            yield NotebookItem.from_parent(self, name="notebook", reason=str(exc))
            return
        if self.config.getoption("check_claims"):
            seen = {}
            for index, claim in enumerate(claims_in(nb, str(self.path))):
                yield ClaimItem.from_parent(self, name=_item_name(claim, seen), claim=claim,
                                            index=index)
        if self.config.getoption("check_prose"):
            yield ProseItem.from_parent(self, name="prose", nb=nb)

    def executed(self):
        """``(claims on fresh outputs, why the run stopped or "", cells it ran)``: the
        notebook runs once, whatever happens, and every item reads the same result."""
        if self._run is None:
            from nbclaims.execute import execute

            nb = read_notebook(self.path)
            fresh, stopped, ran = execute(nb, self.path,
                                          self.config.getoption("check_claims_timeout"))
            self._run = (claims_in(fresh, str(self.path)), stopped, ran)
        return self._run


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
        claim, outputs = self.claim, "stored"
        if self.config.getoption("check_claims_outputs") == "executed":
            found, stopped, ran = self.parent.executed()
            claim, outputs = found[self.index], "fresh"
            if stopped and claim.cell > ran:
                if stopped.startswith("the kernel did not start"):
                    why = stopped
                elif claim.cell == ran + 1:
                    why = f"the run stopped in this cell ({stopped})"
                else:
                    why = f"the run stopped at cell {ran + 1}, before this one ({stopped})"
                raise ClaimFailed(f"{claim.notebook}: cell {claim.cell}: not checked: {why}")
        if not claim.holds:
            raise ClaimFailed(claim.report(outputs))

    def repr_failure(self, excinfo):
        if excinfo.errisinstance(ClaimFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, self.name


class ProseItem(pytest.Item):
    """A notebook's markdown held to its stored outputs: fails with every problem found."""

    def __init__(self, *, nb, **kwargs):
        super().__init__(**kwargs)
        self.nb = nb

    def runtest(self):
        from nbclaims.prose import prose_problems

        problems = prose_problems(self.nb, str(self.path))
        if problems:
            raise ClaimFailed("\n\n".join(p.report() for p in problems)
                              + f"\n\n{len(problems)} prose problem(s)")

    def repr_failure(self, excinfo):
        if excinfo.errisinstance(ClaimFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}::prose"
