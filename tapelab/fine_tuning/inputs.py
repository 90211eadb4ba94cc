"""``fit``'s input rules for ``fine_tune``: what ``data`` and its keywords may be.

- ``data`` is ``(x, y)`` or ``(x, y, sample_weight)`` arrays or tensors, or a
  ``tf.data.Dataset`` of such batches.
- ``x`` (and ``y``) may be a structure for a model with several inputs: a tuple,
  a dict, or a list of arrays (a list is one array per input, as in ``fit``;
  ``tf.data`` would otherwise read a list as one stacked tensor). A Python list
  of numbers is not an array: ``fit`` refuses it, and so does ``fine_tune``.
- ``sample_weight=`` and ``class_weight=`` give per-example weights, as in
  ``fit``; ``class_weight`` becomes sample weights from the labels (Keras's own
  conversion), and cannot be combined with sample weights.
- ``validation_split`` takes the last fraction of the arrays, before shuffling
  (Keras's own split); ``validation_data`` is ``(x, y)``, ``(x, y, sw)`` or a Dataset.
"""

import hashlib
import numbers

import keras
import numpy as np
import tensorflow as tf

from tapelab import _keras_internals


def _is_array(value):
    return isinstance(value, np.ndarray) or tf.is_tensor(value) or (
        hasattr(value, "__array__") and hasattr(value, "shape"))


def _one_per_input(value):
    """Whether ``value`` is a non-empty list or tuple of arrays or structures, one per
    model input, rather than Python numbers (a row ``[1.0, 2.0]`` is numbers)."""
    def numbers_row(v):
        return isinstance(v, (list, tuple)) and bool(v) and isinstance(v[0], numbers.Number)

    return isinstance(value, (list, tuple)) and bool(value) and all(
        _is_array(v) or (isinstance(v, (list, tuple, dict)) and not numbers_row(v))
        for v in value)


def structure(value, name):
    """``value`` with lists of arrays turned into tuples; Python numbers refused."""
    if value is None or _is_array(value):
        return value
    if isinstance(value, dict):
        return {k: structure(v, f"{name}[{k!r}]") for k, v in value.items()}
    if _one_per_input(value):
        return tuple(structure(v, f"{name}[{i}]") for i, v in enumerate(value))
    shown = repr(value)
    raise ValueError(
        f"`{name}` must be a NumPy array or a tensor, or a list, tuple or dict of them "
        f"(one per model input), as in fit. Received: {name}={shown[:80]}"
        f"{'...' if len(shown) > 80 else ''} (of type {type(value).__name__}). Convert "
        f"Python numbers first: np.asarray({name}, dtype='float32').")


def unpack(data, sample_weight, class_weight, what="data"):
    """``data`` and the weight keywords -> ``(x, y, sample_weight or None)`` tensors,
    or the Dataset (class weights mapped in, as ``fit`` maps them)."""
    if isinstance(data, tf.data.Dataset):
        if sample_weight is not None:
            raise ValueError("`sample_weight` must be None when `data` is a Dataset: put the "
                             "weights in its elements, (x, y, sample_weight), as fit requires. "
                             "Received: sample_weight and a Dataset.")
        spec = data.element_spec
        if not (isinstance(spec, tuple) and len(spec) in (2, 3)):
            raise TypeError("A `data` Dataset must yield (x, y) or (x, y, sample_weight) "
                            f"batches. Received: elements with spec {spec}.")
        if class_weight is not None:
            check_class_weight(class_weight)
            class_weight = {int(k): v for k, v in class_weight.items()}
            data = data.map(_keras_internals.class_weight_map_fn(class_weight))
        return data
    if not (isinstance(data, (tuple, list)) and len(data) in (2, 3)):
        raise TypeError(
            "`data` must be (x, y) or (x, y, sample_weight) arrays or tensors, or a "
            f"tf.data.Dataset of such batches. Received: {type(data).__name__}"
            + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else "") + ".")
    x, y = structure(data[0], "x"), structure(data[1], "y")
    inner = data[2] if len(data) == 3 else None
    if inner is not None and sample_weight is not None:
        raise ValueError("`sample_weight` was given twice. Received: data=(x, y, "
                         "sample_weight) and sample_weight=. Pass it once.")
    weight_name = "sample_weight" if what == "data" else f"{what}'s sample_weight"
    weights = structure(inner if inner is not None else sample_weight, weight_name)
    if class_weight is not None:
        check_class_weight(class_weight)
        if weights is not None:
            raise ValueError("`class_weight` and `sample_weight` cannot be used at the same "
                             "time, as in fit. Received: both. Multiply the class weights "
                             "into sample_weight instead.")
        if tf.nest.is_nested(y):
            raise ValueError("`class_weight` is only supported for models with a single "
                             "output, as in fit. Received: a structured y.")
        weights = _keras_internals.class_weight_to_sample_weights(
            y, {int(k): v for k, v in class_weight.items()})
    convert = tf.convert_to_tensor
    x, y = tf.nest.map_structure(convert, x), tf.nest.map_structure(convert, y)
    weights = None if weights is None else tf.nest.map_structure(convert, weights)
    _check_weights(weights, y, weight_name)
    return x, y, weights


def _check_weights(weights, y, name):
    """Refuse sample weights that are not numbers, or whose shape cannot weight ``y``'s
    examples: after trailing axes of size 1, their shape must start ``y``'s (``(n,)``
    for ``y`` of ``(n,)`` or ``(n, 10)``; ``(n, 1)`` too). Checked here, not in the
    middle of a step."""
    if weights is None:
        return
    for w in tf.nest.flatten(weights):
        if not (w.dtype.is_floating or w.dtype.is_integer):
            raise TypeError(f"`{name}` must hold numbers. Received: dtype {w.dtype.name}. "
                            "Convert it, e.g. np.asarray(weights, dtype='float32').")
    if tf.nest.is_nested(weights) or tf.nest.is_nested(y):
        return
    shape, target = list(weights.shape), list(y.shape)
    while len(shape) > 1 and shape[-1] == 1:
        shape.pop()
    if shape != target[:len(shape)]:
        raise ValueError(
            f"`{name}` must give one weight per example (shape (n,)), or per element "
            f"of y (a shape that y's {tuple(target)} starts with). Received: {name} "
            f"of shape {tuple(weights.shape)}. Reshape it, e.g. weights.reshape(-1) "
            "for one weight per example.")


def check_class_weight(class_weight):
    """Refuse a ``class_weight`` that is not ``{class index: weight}`` (float keys with
    integer values pass, as in ``fit``, which converts them with ``int``; weights are
    finite numbers >= 0)."""
    def weight(v):
        return isinstance(v, numbers.Real) and not isinstance(v, bool) and 0 <= v < float("inf")

    if not isinstance(class_weight, dict) or not class_weight or not all(
            isinstance(k, numbers.Real) and not isinstance(k, bool) and k >= 0 and k == int(k)
            and weight(v) for k, v in class_weight.items()):
        raise ValueError("`class_weight` must be a dict from class index (an integer >= 0) "
                         "to weight (a finite number >= 0), e.g. {0: 1.0, 1: 5.0}. Received: "
                         f"class_weight={class_weight!r}.")


def prepare(data, sample_weight, class_weight, validation_data, validation_split):
    """``(training data, validation data or None)``, each as :func:`unpack` gives it.

    ``validation_data`` wins over ``validation_split``, as in ``fit``. The split
    applies to arrays only and takes their last part, before any shuffling and
    before ``class_weight`` (which weights the training part only), as in ``fit``.
    """
    if isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real) \
            or not 0 <= validation_split < 1:
        raise ValueError("`validation_split` must be a float in [0, 1). Received: "
                         f"validation_split={validation_split!r}.")
    held_out = None
    if validation_data is not None:
        held_out = unpack(validation_data, None, None, "validation_data")
    elif validation_split:
        if isinstance(data, tf.data.Dataset):
            raise ValueError("`validation_split` is only supported for arrays and tensors, "
                             "as in fit. Received: a Dataset. Pass "
                             "validation_data=<another Dataset> instead.")
        x, y, sw = unpack(data, sample_weight, None)
        (x, y, sw), held_out = _keras_internals.split_for_validation(
            (x, y, sw), validation_split)
        data, sample_weight = (x, y) if sw is None else (x, y, sw), None
    return unpack(data, sample_weight, class_weight), held_out


def digest(data):
    """What identifies the data, for a checkpoint to compare: for arrays the number of
    examples and a digest of every value (``blake2b`` of x, y and the weights); for a
    Dataset the number of batches (a Dataset is not read for it)."""
    if isinstance(data, tf.data.Dataset):
        return {"dataset batches": int(data.cardinality())}
    h = hashlib.blake2b(digest_size=12)
    for t in tf.nest.flatten(data):
        if t is None:
            continue
        array = np.ascontiguousarray(t.numpy() if tf.is_tensor(t) else t)
        h.update(f"{array.dtype.str}{array.shape}".encode())
        h.update(repr(array.tolist()).encode() if array.dtype == object
                 else memoryview(array).cast("B"))
    return {"examples": int(tf.shape(tf.nest.flatten(data)[0])[0]),
            "data values (digest)": h.hexdigest()}


def _parts(data):
    """One batch's ``(x, y)``: tensors, or the Dataset's specs."""
    return tuple(data.element_spec[:2] if isinstance(data, tf.data.Dataset) else data[:2])


def _spec(data):
    """The batch's shapes (without the batch axis) and dtypes, flat: x's, then y's."""
    return [(tuple(t.shape[1:]), t.dtype.name) for t in tf.nest.flatten(_parts(data))]


def _symbolic(t):
    return keras.KerasTensor([None, *t.shape[1:]], t.dtype.name)


def check_fits(model, data, what, loss, like=None):
    """Refuse ``data`` that the model or the loss cannot take, before the first step:
    ``loss(y, model(x))`` runs symbolically on one batch's spec (no data, no change).
    Data shaped ``like`` other data are not run again (the training run builds on those).

    Args:
      model: the model.
      data: prepared data (``(x, y, sample_weight)`` or a Dataset).
      what: the argument's name, for the message.
      loss: a fresh loss as ``compile`` makes it (:func:`compile_like.loss`).
      like: the training data.
    """
    if like is not None and _spec(data) == _spec(like):
        return
    x, y = (tf.nest.map_structure(_symbolic, part) for part in _parts(data))
    try:
        y_pred = _keras_internals.output_spec(model, x, training=False)
    except Exception as exc:  # noqa: BLE001 - any refusal of the model, in its own words
        shapes = ", ".join(str(tuple(t.shape)) for t in tf.nest.flatten(x))
        raise ValueError(
            f"`{what}` does not fit the model: {_said(exc)}. Received: inputs of shape "
            f"{shapes}; model '{model.name}' takes {_input_shapes(model)}. Nothing was "
            "trained.") from None
    try:
        loss.build(y, y_pred)
        _keras_internals.output_spec(lambda t, p: loss(t, p), y, y_pred)
    except Exception as exc:  # noqa: BLE001 - any refusal of the loss, in its own words
        shapes = ", ".join(str(tuple(t.shape)) for t in tf.nest.flatten(y))
        outputs = ", ".join(str(tuple(t.shape)) for t in tf.nest.flatten(y_pred))
        raise ValueError(
            f"`{what}`'s targets do not fit the loss and the model's outputs: {_said(exc)}. "
            f"Received: targets of shape {shapes}, for outputs of shape {outputs}. Nothing "
            "was trained.") from None


def _said(exc):
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"


def _input_shapes(model):
    inputs = getattr(model, "inputs", None)
    if not inputs:
        return "inputs of another shape"
    return ", ".join(str(tuple(t.shape)) for t in tf.nest.flatten(inputs))
