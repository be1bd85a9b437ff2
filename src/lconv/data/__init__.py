"""Data: synthetic pairs with a planted symmetry (and, later, image datasets)."""

from .synthetic import (
    IMAGE_ALGEBRAS,
    Pairs,
    band_limited_images,
    grid_sample_transform,
    image_pairs,
    uniform_images,
    vector_pairs,
)

__all__ = [
    "IMAGE_ALGEBRAS",
    "Pairs",
    "band_limited_images",
    "grid_sample_transform",
    "image_pairs",
    "uniform_images",
    "vector_pairs",
]
