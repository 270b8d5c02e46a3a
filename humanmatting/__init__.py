"""Real-time human matting with small networks (night, dark, dark-light, lite0).

import humanmatting
humanmatting.cutout_file("photo.jpg", "person.png")        # one call
with humanmatting.load_matter("night") as matter:          # many photos
    prediction = matter.predict("photo.jpg")               # .alpha, .timing, .input_size
    photo = humanmatting.matte_photo(matter, "photo.jpg", humanmatting.Background("color"))
"""

from humanmatting.oneshot import cutout, cutout_file
from humanmatting.pipeline import Background, MattedPhoto, matte_photo
from humanmatting.preprocess import ImageTooLargeError, InvalidImageError
from humanmatting.runtime import Backend, Matter, Prediction, Timing, load_matter
from humanmatting.settings import Settings
from humanmatting.specs import MODEL_SPECS, get_spec
from humanmatting.weights import WeightsNotFoundError

__all__ = [
    "MODEL_SPECS",
    "Background",
    "Backend",
    "ImageTooLargeError",
    "InvalidImageError",
    "MattedPhoto",
    "Matter",
    "Prediction",
    "Settings",
    "Timing",
    "WeightsNotFoundError",
    "cutout",
    "cutout_file",
    "get_spec",
    "load_matter",
    "matte_photo",
]
__version__ = "0.1.0"
