"""Training pipeline: AISegment index, tf.data input, train, evaluate, export.

    python -m humanmatting.training.train --model dark-light --data AISEGMENT_DIR
    python -m humanmatting.training.evaluate --weights runs/dark-light --model dark-light --data ...
    python -m humanmatting.training.export runs/dark-light --model dark-light --out models/

Modules import TensorFlow only where they need it: `humanmatting.training.dataset` and
`humanmatting.training.synthetic` work without it.
"""
