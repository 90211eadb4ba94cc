"""Feature extraction: split a model into a frozen body and a trainable head.

When only a model's head trains, the layers before it compute the same outputs
every epoch. ``split_head`` finds them and cuts the model at the tensors where
the head starts (the *frontier*), so ``fine_tune(cache_features=True)`` can run
the body once and train the head on the cached features:

    body = model's inputs -> frontier        (runs once, training=False)
    head = frontier -> model's outputs       (trains; shares the model's layers)

The head is made of the selected layers and every layer after them; a layer
after the selection that is not selected may have no weights (an activation, a
pooling), since the head runs it on every step. A layer with weights there would
be frozen inside the head, which is not feature extraction: ``split_head``
refuses it, naming that layer.
"""

import functools

import keras
import tensorflow as tf

from tapelab import _keras_internals
from tapelab._cache import CompileCache
from tapelab.fine_tuning.layer_tree import walk


def _graph(model):
    """The functional graph behind ``model`` (a Sequential keeps one inside)."""
    graph = _keras_internals.functional_graph(model)
    if graph is None:
        raise ValueError(
            "`cache_features=True` needs a functional or Sequential model, whose layer "
            "graph says which layers come before the selection. Received: model "
            f"'{model.name}' ({type(model).__name__}). Build it with keras.Input, or "
            "use cache_features=False."
        )
    return graph


def _role(layer, selection, chosen):
    """'selected', 'contains' (a nested model holding a selected layer) or 'frozen'.

    A node's operation may be a plain op, not a layer: ``x / 127.5`` on a Keras
    tensor (``preprocess_input`` makes such ops) records a ``TrueDivide``. It has
    no weights and holds nothing: frozen."""
    if id(layer) in chosen:
        return "selected"
    if not isinstance(layer, keras.layers.Layer):
        return "frozen"
    return "contains" if selection.holds(layer) else "frozen"


def split_head(selection):
    """Cut the selection's model where the selected head starts.

    Args:
      selection: a :class:`~tapelab.fine_tuning.select.Selection` of a built
        functional or Sequential model; each selected layer must be a layer of the
        model itself (top level) or hold only selected ones.

    Returns:
      ``(body, head)``: two ``keras.Model`` objects sharing ``model``'s layers, with
      ``head(body(x))`` equal to ``model(x)``.

    Raises:
      ValueError: if the selection is not a head, naming the layer that breaks it.
    """
    model = selection.model
    graph = _graph(model)
    chosen = {id(layer) for layer in selection.layers}
    after = {}  # id(KerasTensor) -> the selected layer it depends on
    by_depth = _keras_internals.nodes_by_depth(graph)
    nodes = [node for depth in sorted(by_depth, reverse=True)
             for node in by_depth[depth] if node.operation and not node.is_input]
    head_nodes = []
    for node in nodes:
        layer = node.operation
        role = _role(layer, selection, chosen)
        source = next((after[id(t)] for t in node.input_tensors if id(t) in after), None)
        if role == "frozen" and source is None:
            continue
        if role == "contains":
            raise ValueError(
                "`cache_features=True` cuts the model between its top-level layers. "
                f"Received: a selection inside layer '{layer.name}' "
                f"({type(layer).__name__}) that leaves its other layers out. Select "
                f"'{layer.name}' as a whole, or use cache_features=False."
            )
        if role == "frozen" and getattr(layer, "weights", None):
            raise ValueError(
                "`cache_features=True` needs the selected layers to be the model's "
                "head: every layer after them must be selected too, or hold no "
                f"weights. Received: layer '{layer.name}' ({type(layer).__name__}) "
                f"holds {len(layer.weights)} weight(s), is not selected, and runs after "
                f"the selected layer '{source.name}'. Select '{layer.name}' too, or use "
                "cache_features=False."
            )
        head_nodes.append(node)
        for t in node.outputs:
            after[id(t)] = layer if role == "selected" else source
    frontier, seen = [], set()
    for t in [t for node in head_nodes for t in node.input_tensors] + list(graph.outputs):
        if id(t) not in after and id(t) not in seen:
            seen.add(id(t))
            frontier.append(t)
    single = frontier[0] if len(frontier) == 1 else frontier
    body = keras.Model(graph.input, single, name=f"{model.name}_body")
    head = keras.Model(single, model.outputs, name=f"{model.name}_head")
    return body, head


# layers whose training mode differs from inference by drawing noise or masks
_NOISE = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
          "GaussianNoise", "GaussianDropout", "AlphaDropout")


def training_only_layers(body):
    """The layers of ``body`` that act only in training mode: Dropout and noise
    layers, and random augmentation (``RandomFlip``, ``RandomRotation``, ...).

    Returns:
      Their descriptions, ``"'name' (Class)"``, in model order.
    """
    layers, _ = walk(body)
    return [f"'{layer.name}' ({type(layer).__name__})" for layer in layers
            if isinstance(layer, keras.layers.Dropout) or type(layer).__name__ in _NOISE
            or type(layer).__name__.startswith("Random")]


def _infer(body, x):
    return body(x, training=False)


def compiled_body(body):
    """``body`` in inference mode, compiled; trace once per input signature."""
    return tf.function(functools.partial(_infer, body), reduce_retracing=True)


SPLITS = CompileCache(size=2)  # per model: (body, head, compiled body) per selection


def _split(selection):
    body, head = split_head(selection)
    return body, head, compiled_body(body)


def cached_split(selection):
    """``split_head`` and ``compiled_body``, reused while model and selection stay the same.

    A new ``fine_tune`` call on the same head then does not trace the body again.
    The cached objects hold the model's layers, never the model itself, so the
    model can still be freed.
    """
    return SPLITS.get(selection.model, (tuple(selection.layers),),
                      functools.partial(_split, selection))


def nbytes(features):
    """Memory taken by cached features, in bytes."""
    return sum(int(t.shape.num_elements()) * t.dtype.size for t in tf.nest.flatten(features))
