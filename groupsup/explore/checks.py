"""What the explorer accepts from a client: the error it answers with, its limits, and the
checks of values that need no model (integers of a query or a JSON body, uploaded images).

Every refusal is a :class:`RequestError` naming the field, which the server answers as a 4xx
JSON error (see docs/explore.md).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from groupsup.errors import DataError, GroupsupError
from groupsup.imaging import to_8bit

# upload formats Pillow is asked to decode: lossless PNG and the camera's JPEG, nothing else
UPLOAD_FORMATS = ("PNG", "JPEG")
UPLOAD_ID = re.compile(r"u[0-9]{1,9}")

Provider = int | str  # an example id or an upload id


class RequestError(GroupsupError):
    """A client request the explorer refuses: ``field`` names the culprit, ``status`` is the
    HTTP status the server answers with (400 unless said otherwise)."""

    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(f"{field}: {message}")
        self.field, self.status, self.message = field, status, message


@dataclass(frozen=True)
class Limits:
    """What one client may send: bytes of a JSON body and of an upload, uploads kept (the
    oldest is dropped first), examples per listing page, syntheses of one sweep over the
    unlabelled block."""

    json_bytes: int = 16 * 1024
    upload_bytes: int = 1024 * 1024
    uploads: int = 256
    page: int = 500
    sweep: int = 64


def query_int(text: str, field: str, low: int, high: int) -> int:
    """An integer query parameter in ``low..high``."""
    try:
        value = int(text)
    except ValueError:
        raise RequestError(field, f"expected an integer, got {text!r}") from None
    if not low <= value <= high:
        raise RequestError(field, f"{value} outside {low}..{high}")
    return value


def json_int(value: Any, field: str, low: int, high: int) -> int:
    """A JSON integer (not a boolean, not a float) in ``low..high``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(field, f"expected an integer in {low}..{high}, got {value!r}")
    if not low <= value <= high:
        raise RequestError(field, f"{value} outside {low}..{high}")
    return value


def decode_upload(data: bytes, shape: tuple[int, int, int], max_bytes: int) -> np.ndarray:
    """An uploaded image's bytes as uint8 ``(H, W, C)`` of the model's *shape* ``(C, H, W)``:
    size in bytes, format, pixel size (read from the header, before any pixel is decoded) and
    mode are checked first."""
    c, h, w = shape
    if not data:
        raise RequestError("body", "empty upload; send the image file's bytes")
    if len(data) > max_bytes:
        raise RequestError("body", f"upload of {len(data)} bytes exceeds {max_bytes}", 413)
    try:
        with Image.open(io.BytesIO(data), formats=list(UPLOAD_FORMATS)) as img:
            if img.size != (w, h):
                raise RequestError("image", f"image is {img.size[0]}x{img.size[1]} pixels, "
                                   f"the model expects {w}x{h}")
            return np.asarray(to_8bit(img, "L" if c == 1 else "RGB", "upload"),
                              dtype=np.uint8).reshape(h, w, c)
    except UnidentifiedImageError:
        raise RequestError("image", f"not a {' or '.join(UPLOAD_FORMATS)} image", 415) from None
    except DataError as err:
        raise RequestError("image", str(err)) from None
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise RequestError("image", f"cannot decode the image ({err})") from None
