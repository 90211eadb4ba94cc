import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# tests/data holds notebook fixtures for check-claims, not notebooks for nbval to run
collect_ignore_glob = ["data/*"]
