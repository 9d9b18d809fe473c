"""Tiny NumPy drawing helpers for `render_mode="rgb_array"` (no pygame needed).

Frames are HxWx3 uint8 arrays; every helper draws in place, clipped to the frame, and touches
only the bounding box of the shape, so a frame with a few dozen shapes costs well under 1 ms.
"""

from __future__ import annotations

import numpy as np

PALETTE = np.array(
    [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
        (214, 39, 40),
    ],
    dtype=np.uint8,
)
"""Distinct colours for agents, cycled when there are more agents than colours."""


def canvas(height: int, width: int, color: tuple[int, int, int]) -> np.ndarray:
    """A new frame filled with `color`."""
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[...] = color
    return frame


def fill_rect(
    frame: np.ndarray, top: int, left: int, height: int, width: int, color: tuple[int, ...]
) -> None:
    """Fill the axis-aligned rectangle with its top-left corner at (top, left)."""
    top, left = max(top, 0), max(left, 0)
    frame[top : top + height, left : left + width] = color


def fill_disc(
    frame: np.ndarray,
    cy: float,
    cx: float,
    radius: float,
    color: tuple[int, ...] | np.ndarray,
    alpha: float = 1.0,
) -> None:
    """Fill the disc of `radius` pixels centred at pixel (cy, cx), blended with `alpha`."""
    h, w = frame.shape[:2]
    y0, y1 = max(int(np.floor(cy - radius)), 0), min(int(np.ceil(cy + radius)) + 1, h)
    x0, x1 = max(int(np.floor(cx - radius)), 0), min(int(np.ceil(cx + radius)) + 1, w)
    if y0 >= y1 or x0 >= x1:
        return
    ys = np.arange(y0, y1)[:, None] + 0.5 - cy
    xs = np.arange(x0, x1)[None, :] + 0.5 - cx
    inside = ys * ys + xs * xs <= radius * radius
    patch = frame[y0:y1, x0:x1]
    if alpha >= 1.0:
        patch[inside] = color
    else:
        blended = (1.0 - alpha) * patch[inside] + alpha * np.asarray(color, dtype=np.float64)
        patch[inside] = blended.astype(np.uint8)


def ring(
    frame: np.ndarray, cy: float, cx: float, radius: float, width: float, color: tuple[int, ...]
) -> None:
    """Draw a circle outline of `width` pixels centred at pixel (cy, cx)."""
    h, w = frame.shape[:2]
    y0, y1 = max(int(np.floor(cy - radius)), 0), min(int(np.ceil(cy + radius)) + 1, h)
    x0, x1 = max(int(np.floor(cx - radius)), 0), min(int(np.ceil(cx + radius)) + 1, w)
    if y0 >= y1 or x0 >= x1:
        return
    ys = np.arange(y0, y1)[:, None] + 0.5 - cy
    xs = np.arange(x0, x1)[None, :] + 0.5 - cx
    dist = np.sqrt(ys * ys + xs * xs)
    frame[y0:y1, x0:x1][(dist <= radius) & (dist >= radius - width)] = color
