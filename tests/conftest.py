import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# tests/data holds notebook fixtures for check-claims, not notebooks for nbval to run
collect_ignore_glob = ["data/*"]

# tests/browser/ opens the built book in Chromium: `make test-browser` runs it (naming the
# folder, which this list does not hide); `make test` does not
collect_ignore = ["browser"]
# tests/load/ runs `make run` beside busy processes (minutes): `make test-load` runs it
collect_ignore += ["load"]
