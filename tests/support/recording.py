"""A delivery channel for reliability tests: appends one line per delivered reminder to
the file named by DELIVERY_LOG, so a test can count losses and duplicates across
worker processes and restarts. It is the fault drill's recording channel."""

from __future__ import annotations

from ops.drill import RecordingChannel, delivered_ids

__all__ = ["FileChannel", "delivered_ids"]


class FileChannel(RecordingChannel):
    name = "file"
