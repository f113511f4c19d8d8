"""A run's per-image test correctness, kept on its final row (`test_correct` in train.csv) as text: the image
count, then the bits (1: right, in the test set's order) packed and base64-coded, 1,668 characters for 10,000
images. From it the accuracy verdict counts the test set's sampling in its interval (stats.with_test_images)."""

from __future__ import annotations

import base64

import numpy as np


def encode(correct) -> str:
    bits = np.asarray(correct, dtype=bool)
    return f"{len(bits)}:{base64.b64encode(np.packbits(bits)).decode('ascii')}"


def decode(text: str) -> np.ndarray:
    count, packed = text.split(":", 1)
    return np.unpackbits(np.frombuffer(base64.b64decode(packed), dtype=np.uint8), count=int(count)).astype(bool)
