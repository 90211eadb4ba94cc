"""benchmarks/results.json: the rows of the last `make bench`, read by the book's speed page.

Each bench script's rows are kept under the script's name, with the date, the machine's
CPU count, the TF and Keras versions, and how much of the machine other processes used
while the script ran; a new run of a script replaces its rows and leaves the other
scripts' rows as they were.
"""

import datetime
import json
import os
import sys
import time
from pathlib import Path

PATH = Path(__file__).with_name("results.json")
_started = set()  # the scripts that have written a row in this process


def _busy_seconds():
    """CPU seconds all processes have used since boot (Linux), or None elsewhere."""
    try:
        fields = [int(f) for f in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_seconds():
    t = os.times()
    return t.user + t.system


_START = (time.monotonic(), _busy_seconds(), _own_seconds())


def others_share():
    """The share of all CPUs that other processes used since this script started."""
    wall = time.monotonic() - _START[0]
    busy = _busy_seconds()
    if busy is None or _START[1] is None or wall <= 0:
        return None
    others = (busy - _START[1]) - (_own_seconds() - _START[2])
    return round(min(1.0, max(0.0, others / (wall * os.cpu_count()))), 2)


def record(label, helper_s, reference_s, goal=None):
    """Store one row (times in seconds; ``goal``: the largest ratio that meets it)."""
    import keras
    import tensorflow as tf

    script = Path(sys.argv[0]).name
    data = json.loads(PATH.read_text()) if PATH.exists() else {}
    if script not in _started or script not in data:
        _started.add(script)
        data[script] = {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cpus": os.cpu_count(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "rows": [],
        }
    data[script]["rows"].append({
        "comparison": label,
        "helper_ms": round(helper_s * 1e3, 4),
        "reference_ms": round(reference_s * 1e3, 4),
        "ratio": round(helper_s / reference_s, 4),
        "goal": goal,
    })
    # other processes' share of all CPUs from the script's start to this row: well above
    # zero, the rows were timed on a shared machine
    data[script]["others_cpu_share"] = others_share()
    tmp = PATH.with_name(f".{PATH.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, PATH)
