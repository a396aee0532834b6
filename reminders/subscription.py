"""What a patient needs to subscribe: the addresses, add-to-calendar links and a QR code."""

from __future__ import annotations

from typing import Any

import segno

from reminders import feeds


def subscription_context(token: str) -> dict[str, Any]:
    urls = feeds.feed_urls(token)
    # https, not webcal: Android camera apps open only web addresses (issue #17).
    qr = segno.make(urls["https"], error="m")
    return {
        "urls": urls,
        "qr_svg": qr.svg_inline(scale=4, title="QR code of your calendar address"),
    }
