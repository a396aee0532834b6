"""A delivery channel for reliability tests: appends one line per delivered reminder to
the file named by DELIVERY_LOG, so a test can count losses and duplicates across
worker processes and restarts."""

from __future__ import annotations

import os
import time

from reminders.channels import Message


class FileChannel:
    name = "file"

    def send(self, message: Message) -> None:
        # A little work per message, so that a kill lands in the middle of dispatching.
        time.sleep(float(os.environ.get("DELIVERY_DELAY", "0.005")))
        line = f"{message.reminder_id}\n".encode()
        fd = os.open(os.environ["DELIVERY_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def delivered_ids(path: str) -> list[int]:
    try:
        with open(path) as handle:
            return [int(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []
