"""Real-time human matting with small LikeUnet networks (night, dark, dark-light).

import humanmatting
humanmatting.cutout_file("photo.jpg", "person.png")        # one call
with humanmatting.load_matter("night") as matter:          # many photos
    prediction = matter.predict("photo.jpg")               # .alpha, .timing, .input_size
"""

from humanmatting.oneshot import cutout, cutout_file
from humanmatting.preprocess import ImageTooLargeError, InvalidImageError
from humanmatting.runtime import Backend, Matter, Prediction, Timing, load_matter
from humanmatting.settings import Settings
from humanmatting.specs import MODEL_SPECS, get_spec
from humanmatting.weights import WeightsNotFoundError

__all__ = [
    "MODEL_SPECS",
    "Backend",
    "ImageTooLargeError",
    "InvalidImageError",
    "Matter",
    "Prediction",
    "Settings",
    "Timing",
    "WeightsNotFoundError",
    "cutout",
    "cutout_file",
    "get_spec",
    "load_matter",
]
__version__ = "0.1.0"
