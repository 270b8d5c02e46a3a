"""Real-time human matting with small LikeUnet networks (night, dark, dark-light)."""

from humanmatting.preprocess import ImageTooLargeError, InvalidImageError
from humanmatting.runtime import Matter, load_matter
from humanmatting.specs import MODEL_SPECS, get_spec
from humanmatting.weights import WeightsNotFoundError

__all__ = [
    "MODEL_SPECS",
    "ImageTooLargeError",
    "InvalidImageError",
    "Matter",
    "WeightsNotFoundError",
    "get_spec",
    "load_matter",
]
__version__ = "0.1.0"
