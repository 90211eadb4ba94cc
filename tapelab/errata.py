"""`tapelab errata`: re-check the seed tutorial's claims against the installed TF.

Each check runs the seed's own code (or the smallest piece of it that makes
the claim) and reports what TensorFlow does now. Nothing is downloaded: the
ImageNet check runs under :func:`tapelab.offline.offline`.
"""

from dataclasses import dataclass

from tapelab import tf_logs
from tapelab.notebooks import below

HOLDS, WRONG, FAILS, OFFLINE = "holds", "wrong", "fails on this version", "fails offline"


@dataclass(frozen=True)
class Erratum:
    """One seed claim, what TF does with it today, and the verdict."""

    claim: str
    seed_says: str
    tf_does: str
    verdict: str  # holds / wrong / fails on this version / fails offline


def _error(exc):
    text = f"{type(exc).__name__}: {exc}"
    return text.split("\n")[0]


def _short(text, width=70):
    return text if len(text) <= width else text[: width - 3] + "..."


def check_first_example(tf):
    x = tf.Variable(5.0)
    with tf.GradientTape() as tape:
        y = x**2 + 2 * x + 1
    g = float(tape.gradient(y, x))
    return Erratum("d/dx (x**2 + 2x + 1) at x=5", "6.0 (code comment)",
                   f"{g} (f'(x) = 2x + 2)", HOLDS if g == 6.0 else WRONG)


def check_square_at_3(tf):
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x**2
    g = float(tape.gradient(y, x))
    return Erratum("d/dx x**2 at x=3", "6.0", f"{g}", HOLDS if g == 6.0 else WRONG)


def check_unused_watch(tf):
    x, unused = tf.constant(3.0), tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch(unused)
        y = x**2
    g = tape.gradient(y, unused)
    return Erratum("watch(t) gives a gradient for unused t",
                   "gradients computed", f"gradient is {g}",
                   WRONG if g is None else HOLDS)


def check_persistent(tf):
    x = tf.constant(3.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x**2
        z = y**2
    g1, g2 = float(tape.gradient(y, x)), float(tape.gradient(z, x))
    del tape
    ok = (g1, g2) == (6.0, 108.0)
    return Erratum("persistent: dy/dx, dz/dx at 3", "6.0 and 108.0", f"{g1} and {g2}",
                   HOLDS if ok else WRONG)


def check_second_call(tf):
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x**2
        z = y**2
    tape.gradient(y, x)
    try:
        tape.gradient(z, x)
    except RuntimeError:
        return Erratum("2nd gradient() needs persistent",
                       "fails otherwise",
                       "RuntimeError", HOLDS)
    return Erratum("2nd gradient() needs persistent",
                   "fails otherwise", "it succeeded", WRONG)


def check_imagenet(tf, keras):
    import contextlib
    import io

    from tapelab.offline import offline

    try:  # Keras prints "Downloading data from ..." first: keep the table clean
        with offline(), contextlib.redirect_stdout(io.StringIO()):
            keras.applications.ResNet50(weights="imagenet")
    except Exception:  # noqa: BLE001 - Keras raises a bare Exception here
        return Erratum("ResNet50(weights='imagenet')", "a ready model",
                       "needs a ~100 MB download", OFFLINE)
    return Erratum("ResNet50(weights='imagenet')", "a ready model",
                   "loaded from the Keras cache", HOLDS)


def check_resnet(tf, keras):
    """The seed's fine-tuning example, claim by claim, on one ResNet50(weights=None)."""
    keras.utils.set_random_seed(0)
    model = keras.applications.ResNet50(weights=None)
    last3 = model.layers[-3:]
    rows = []

    try:
        with tf.GradientTape() as tape:
            for layer in last3:
                tape.watch(layer.weights)
        rows.append(Erratum("tape.watch(layer.weights)", "watches the layer's weights",
                            "accepted", HOLDS))
    except ValueError:
        rows.append(Erratum("tape.watch(layer.weights)", "watches the layer's weights",
                            "ValueError (Keras 3 Variable)", FAILS))

    weightless = [layer.name for layer in last3 if not layer.weights]
    rows.append(Erratum("layers[-3:] are 3 layers to train", "3 weighted layers",
                        f"{len(weightless)} have no weights",
                        WRONG if weightless else HOLDS))

    x = tf.random.normal((1, 224, 224, 3))
    with tf.GradientTape() as tape:
        tape.watch(x)  # the seed watches layer.weights; watch something harmless instead
        output = model(x)
    watched = len(tape.watched_variables())
    total = len(model.trainable_variables)
    rows.append(Erratum("watch() picks what the tape records",
                        "the layers to train", f"watched {watched} of {total} variables", WRONG if watched == total else HOLDS))

    # the seed's gradient call, as written: one list of weights per layer
    gradients = tape.gradient(output, [layer.weights for layer in last3])
    grads = gradients[-1]  # the head's
    biggest = max(float(tf.reduce_max(tf.abs(g))) for g in grads)
    total_prob = float(tf.reduce_sum(output))
    rows.append(Erratum("grad of softmax output trains",
                        "useful gradients", f"sum = {total_prob:.4f}; max|g| {below(biggest, 1e-6)}",
                        WRONG if biggest < 1e-6 else HOLDS))

    # the seed's update loop, as written: one apply_gradients per layer
    optimizer = keras.optimizers.SGD(learning_rate=0.001)
    try:
        for layer, layer_grads in zip(last3, gradients):
            optimizer.apply_gradients(zip(layer_grads, layer.trainable_weights))
        rows.append(Erratum("per-layer apply_gradients", "updates each layer",
                            "worked", HOLDS))
    except ValueError as exc:  # the first layer has no weights: apply_gradients(zip([], []))
        empty = "not enough values to unpack (expected 2, got 0)" in str(exc)
        rows.append(Erratum("per-layer apply_gradients", "updates each layer",
                            "ValueError on weightless 1st layer" if empty else _error(exc),
                            FAILS))
    return rows


def run_all():
    """Run every check; return a list of :class:`Erratum` rows."""
    tf_logs.quiet()
    import keras
    import tensorflow as tf

    rows = [check_first_example(tf), check_square_at_3(tf), check_unused_watch(tf)]
    rows += check_resnet(tf, keras)
    rows += [check_imagenet(tf, keras), check_persistent(tf), check_second_call(tf)]
    return rows


def format_table(rows):
    """The rows as a fixed-width text table."""
    widths = [max(len(getattr(r, f)) for r in rows) for f in ("claim", "seed_says", "tf_does")]
    widths = [min(w, 60) for w in widths]
    head = ("seed claim", "seed says", "TF does here", "verdict")
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths + [0])).rstrip()]
    lines.append("  ".join("-" * w for w in widths + [len("fails on this version")]))
    for r in rows:
        cells = [_short(r.claim, widths[0]), _short(r.seed_says, widths[1]),
                 _short(r.tf_does, widths[2])]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)) + "  " + r.verdict)
    return "\n".join(lines)
