"""Let `model.fit` / `model.evaluate` run batches whose height and width change per batch.

Keras 3's bilinear `UpSampling2D` cannot be traced with unknown H, W (it checks the target
size in Python), but Keras traces its train step once with `reduce_retracing=True`, i.e.
with the dataset's element spec: (None, None, None, C) for our mixed-preset batches. Here
the step function is traced once per concrete batch shape instead (7 presets: 7 traces,
each a plain static-shape graph, XLA-compilable), and the iterator is read eagerly so the
step sees concrete shapes. Everything else (callbacks, progress bar, metrics,
tf.distribute) stays Keras's own.

This replaces `make_train_function` / `make_test_function` on one model instance; call
`trace_per_shape(model)` again after loading a checkpoint.
"""

from __future__ import annotations

import types

import keras


def _shape_key(data) -> tuple:
    import tensorflow as tf

    return tuple(tuple(t.shape) for t in tf.nest.flatten(data, expand_composites=True))


def _make_per_shape_function(model: keras.Model, step_function):
    import tensorflow as tf
    from keras.src.backend.tensorflow.trainer import reduce_per_replica

    strategy = model.distribute_strategy
    traced: dict[tuple, object] = {}

    def one_step_on_data(data):
        outputs = strategy.run(step_function, args=(data,))
        return reduce_per_replica(outputs, strategy, reduction="auto")

    def function(iterator):
        outputs = None
        for _, data in zip(range(model.steps_per_execution), iterator, strict=False):
            key = _shape_key(data)
            step = traced.get(key)
            if step is None:
                step = traced[key] = (
                    one_step_on_data
                    if model.run_eagerly
                    else tf.function(one_step_on_data, jit_compile=model.jit_compile)
                )
            outputs = step(data)
        if outputs is None:
            raise StopIteration
        return outputs

    function.traced_shapes = traced  # for tests and logs: one entry per batch shape
    return function


def _make_train_function(self, force: bool = False):
    if self.train_function is not None and not force:
        return self.train_function
    self.train_function = _make_per_shape_function(self, self.train_step)
    return self.train_function


def _make_test_function(self, force: bool = False):
    if self.test_function is not None and not force:
        return self.test_function
    self.test_function = _make_per_shape_function(self, self.test_step)
    return self.test_function


def trace_per_shape(model: keras.Model) -> keras.Model:
    """Make fit/evaluate of `model` trace one step per batch shape; returns the model."""
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("training.steps supports the TensorFlow backend only")
    model.make_train_function = types.MethodType(_make_train_function, model)
    model.make_test_function = types.MethodType(_make_test_function, model)
    model.train_function = None
    model.test_function = None
    return model
