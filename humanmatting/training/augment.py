"""Augmentation for real photos: one affine warp to the batch's input size, then the
photometric damage that phone and web photos carry.

Geometry (flip, zoom, rotation, shift) is one `cv2.warpAffine` from the cached photo
straight to the network input size, with the same warp for the mask, so a sample costs
one resample whatever it does. Borders are mirrored (the mask too, so labels stay true).
Photometric changes (brightness, contrast, gamma, saturation, hue, blur, noise, JPEG)
touch the photo only. All randomness comes from the generator passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class PhotoAugmentation:
    flip: bool = True  # horizontal mirror with probability 1/2
    zoom: tuple[float, float] = (0.8, 1.4)  # scale relative to fitting the photo, log-uniform
    rotation: float = 12.0  # degrees, uniform in +-rotation
    shift: float = 0.1  # centre moves by up to this fraction of the output side
    brightness: float = 0.2  # add up to +-brightness*255
    contrast: float = 0.3  # scale deviations from mid-grey by 1 +- contrast
    gamma: tuple[float, float] = (0.7, 1.4)
    saturation: float = 0.4  # scale saturation by 1 +- saturation
    hue: float = 8.0  # shift hue by up to +-hue degrees
    blur_probability: float = 0.2  # Gaussian blur, sigma 0.5..1.5 (out of focus, motion)
    noise_probability: float = 0.25  # Gaussian noise, sigma 2..10 levels (sensor noise)
    jpeg_probability: float = 0.3  # re-encode at quality 30..90 (web and messenger photos)

    def geometry(
        self, source: tuple[int, int], size: tuple[int, int], rng: np.random.Generator
    ) -> np.ndarray:
        """2x3 affine matrix from a `source` (h, w) photo to an output of `size` (h, w)."""
        (src_h, src_w), (out_h, out_w) = source, size
        fit = math.sqrt(min(out_h / src_h, out_w / src_w) * max(out_h / src_h, out_w / src_w))
        scale = fit * math.exp(rng.uniform(math.log(self.zoom[0]), math.log(self.zoom[1])))
        angle = rng.uniform(-self.rotation, self.rotation)
        # Pixel centres: the photo's centre is at ((w - 1) / 2, (h - 1) / 2), as cv2.resize
        # has it, so that without zoom, rotation and shift this is exactly a resize.
        centre = ((src_w - 1) / 2, (src_h - 1) / 2)
        matrix = cv2.getRotationMatrix2D(centre, angle, scale)
        shift_x, shift_y = (rng.uniform(-self.shift, self.shift) * side for side in (out_w, out_h))
        matrix[0, 2] += (out_w - 1) / 2 - centre[0] + shift_x
        matrix[1, 2] += (out_h - 1) / 2 - centre[1] + shift_y
        if self.flip and rng.random() < 0.5:
            matrix = np.array([[-1, 0, out_w - 1], [0, 1, 0]], np.float64) @ np.vstack(
                [matrix, [0, 0, 1]]
            )
        return matrix

    def photometric(self, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Colour, light and compression changes of an HxWx3 uint8 RGB photo."""
        if self.saturation or self.hue:
            hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
            hue_shift = rng.uniform(-self.hue, self.hue) / 2  # OpenCV hue is 0..179
            gain = rng.uniform(1 - self.saturation, 1 + self.saturation)
            hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + round(hue_shift)) % 180).astype(np.uint8)
            hsv[..., 1] = np.clip(hsv[..., 1] * gain, 0, 255).astype(np.uint8)
            rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        levels = np.arange(256, dtype=np.float32) / 255
        levels = levels ** rng.uniform(*self.gamma)
        gain = rng.uniform(1 - self.contrast, 1 + self.contrast)
        offset = rng.uniform(-self.brightness, self.brightness)
        table = np.clip(np.rint(((levels - 0.5) * gain + 0.5 + offset) * 255), 0, 255)
        rgb = cv2.LUT(rgb, table.astype(np.uint8))
        if rng.random() < self.blur_probability:
            rgb = cv2.GaussianBlur(rgb, (0, 0), rng.uniform(0.5, 1.5))
        if rng.random() < self.noise_probability:
            noise = rng.normal(0, rng.uniform(2, 10), rgb.shape).astype(np.float32)
            rgb = np.clip(rgb + noise, 0, 255).astype(np.uint8)
        if rng.random() < self.jpeg_probability:
            quality = int(rng.integers(30, 91))
            ok, data = cv2.imencode(
                ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
            )
            if ok:
                rgb = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        return rgb

    def apply(
        self,
        rgb: np.ndarray,
        mask: np.ndarray,
        size: tuple[int, int],
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(photo, mask) warped to `size` (h, w) and the photo damaged; both uint8."""
        matrix = self.geometry(rgb.shape[:2], size, rng)
        out = (size[1], size[0])
        border = cv2.BORDER_REFLECT_101
        photo = cv2.warpAffine(rgb, matrix, out, flags=cv2.INTER_LINEAR, borderMode=border)
        warped = cv2.warpAffine(mask, matrix, out, flags=cv2.INTER_LINEAR, borderMode=border)
        return self.photometric(photo, rng), warped


# Geometry to the input size only (fit, centred): a run with augmentation switched off.
RESIZE_ONLY = PhotoAugmentation(
    flip=False,
    zoom=(1.0, 1.0),
    rotation=0.0,
    shift=0.0,
    brightness=0.0,
    contrast=0.0,
    gamma=(1.0, 1.0),
    saturation=0.0,
    hue=0.0,
    blur_probability=0.0,
    noise_probability=0.0,
    jpeg_probability=0.0,
)
