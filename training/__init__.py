"""Training pipeline: AISegment index, tf.data input, train, evaluate, export.

    python -m training.train --model dark-light --data AISEGMENT_DIR
    python -m training.evaluate --weights RUN_DIR/best.keras --model dark-light --data ...
    python -m training.export RUN_DIR/best.keras --model dark-light --out models/

Modules import TensorFlow only where they need it: `training.dataset` and
`training.synthetic` work without it.
"""
