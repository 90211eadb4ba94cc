"""The fine-tuning engine: train a subset of a Keras model's layers as ``fit`` would.

``select`` resolves a layer selection once into a :class:`~tapelab.fine_tuning.select.Selection`;
``step`` is THE training step (``fine_tune_step`` runs it eagerly), ``loop`` runs it
compiled for several epochs (``fine_tune``), over ``batches``, with ``features``
(cached features), ``resume`` (checkpoints) and ``distribute`` (``tf.distribute``).
"""
