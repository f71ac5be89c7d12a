"""A QR code of an invitation link as PNG bytes, to show on a phone or print at a meeting."""

from __future__ import annotations

import io

import qrcode
from qrcode.image.pure import PyPNGImage


def qr_png(link: str) -> bytes:
    image = qrcode.make(link, image_factory=PyPNGImage, box_size=10, border=4)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()
