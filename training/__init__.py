"""Training pipeline: AISegment index, tf.data input, train, evaluate, export.

    python -m training.train --model dark-light --data AISEGMENT_DIR
    python -m training.evaluate --weights runs/dark-light --model dark-light --data ...
    python -m training.export runs/dark-light --model dark-light --out models/

Modules import TensorFlow only where they need it: `training.dataset` and
`training.synthetic` work without it.
"""
