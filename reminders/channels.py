"""Delivery channels behind one small interface, so SMS or push can be added without
touching the dispatcher: a channel takes a rendered message for one addressee and
either delivers it or raises a TransientError (retry later) or a PermanentError."""

from __future__ import annotations

import contextlib
import smtplib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.utils.module_loading import import_string

from reminders.mime import ReminderEmail

if TYPE_CHECKING:
    from reminders.models import Notice


@dataclass(frozen=True, slots=True)
class PushTarget:
    """One browser the patient turned notifications on in (reminders.models.PushSubscription)."""

    subscription_id: int
    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    text: str
    # The e-mail's HTML part, rendered only when an e-mail is sent (in the language of
    # the message, reminders.messages): push, SMS and in-app never pay for it.
    html: Callable[[], str]
    emails: tuple[str, ...]  # the addressees' e-mail addresses, if any
    user_id: int | None = None  # the patient's account, for in-app notices
    clinic_id: int | None = None  # clinic-wide notices (alerts)
    reminder_id: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Push and SMS: the short text (the subject and the e-mail's own opening and closing
    # paragraphs, reminders.messages), the e-mail's action links and the page a tap opens.
    short_text: str = ""
    links: tuple[tuple[str, str], ...] = ()
    open_url: str = ""
    push_targets: tuple[PushTarget, ...] = ()
    sms_to: str = ""  # a verified, opted-in number; empty: no text


class TransientError(Exception):
    """Try again later: the mail server is down, the network is away."""


class PermanentError(Exception):
    """Trying again will not help: the address is refused or missing."""


class Channel(Protocol):
    name: str

    def send(self, message: Message) -> None: ...


class LedgerChannel(Channel, Protocol):
    """A channel whose outcome is kept per reminder (reminders.models.Delivery): the
    dispatcher sends through it only when the message is addressed to it and it has
    not delivered this reminder before."""

    def addressed(self, message: Message) -> bool: ...


def has_ledger(channel: Channel) -> bool:
    return hasattr(channel, "addressed")


def channels_flush(channels: Iterable[Channel]) -> None:
    """Channels that keep what they send until the delivery records its outcomes
    (in-app notices) write it now."""
    for channel in channels:
        flush = getattr(channel, "flush", None)
        if flush is not None:
            flush()


def channels_close(channels: Iterable[Channel]) -> None:
    """The end of a delivery batch: channels that hold a connection (e-mail) close it."""
    for channel in channels:
        close = getattr(channel, "close", None)
        if close is not None:
            close()


class EmailChannel:
    """E-mail through settings.EMAIL_BACKEND. One connection serves a whole delivery
    batch (opened at the first message, closed by `close()`): a connection per message
    costs an SMTP handshake, and with TLS a TLS handshake, for every reminder."""

    name = "email"

    def __init__(self) -> None:
        self._connection: BaseEmailBackend | None = None

    def addressed(self, message: Message) -> bool:
        return bool(message.emails)

    def send(self, message: Message) -> None:
        if not message.emails:
            return  # in-app only (messages_for refuses a patient with no way to reach)
        try:
            if self._connection is None:
                connection = get_connection(fail_silently=False)
                connection.open()  # opened here, it stays open across send() calls
                self._connection = connection
            email = ReminderEmail(
                subject=message.subject,
                body=message.text,
                to=list(message.emails),
                headers=message.headers,
                connection=self._connection,
            )
            email.attach_alternative(message.html(), "text/html")
            email.send()
        except smtplib.SMTPRecipientsRefused as error:
            raise PermanentError("the mail server refused the address") from error
        except (TimeoutError, smtplib.SMTPException, OSError) as error:
            # The connection may be broken: the next message opens a new one.
            self.close()
            raise TransientError(type(error).__name__) from error

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # Every message was handed over already; QUIT is a courtesy.
            with contextlib.suppress(TimeoutError, smtplib.SMTPException, OSError):
                connection.close()


class InAppChannel:
    """In-app notices. A reminder's notice is kept until the delivery records its
    outcomes (`flush()`, reminders.dispatch) and then written with the batch's others in
    one statement; a retried delivery updates its notice instead of adding a second."""

    name = "in_app"

    def __init__(self) -> None:
        self._notices: dict[int, Notice] = {}

    def send(self, message: Message) -> None:
        from reminders.models import Notice

        if message.user_id is None and message.clinic_id is None:
            return  # a patient without an account yet: e-mail only
        notice = Notice(
            user_id=message.user_id,
            clinic_id=message.clinic_id,
            subject=message.subject,
            body=message.text,
            reminder_id=message.reminder_id,
        )
        if message.reminder_id is None:
            notice.save()
        else:
            self._notices[message.reminder_id] = notice

    def close(self) -> None:
        """The delivery ended before recording (the database went away): its rows are
        claimed again later and write their notices then."""
        self._notices = {}

    def flush(self) -> None:
        from reminders.models import Notice

        notices, self._notices = list(self._notices.values()), {}
        if notices:
            Notice.objects.bulk_create(
                notices,
                update_conflicts=True,
                unique_fields=["reminder"],
                update_fields=["user", "clinic", "subject", "body"],
            )


class NullChannel:
    """Delivers nothing: for benchmarks of the dispatcher itself."""

    name = "null"

    def send(self, message: Message) -> None:
        return None


class PushChannel:
    """Web Push to each browser the patient turned notifications on in (reminders.push)."""

    name = "push"

    def addressed(self, message: Message) -> bool:
        return bool(message.push_targets)

    def send(self, message: Message) -> None:
        from reminders import push

        push.message_push(message)


class SmsChannel:
    """A text to the patient's verified number through the configured provider
    (reminders.sms); off unless SMS_PROVIDER is set."""

    name = "sms"

    def addressed(self, message: Message) -> bool:
        return bool(message.sms_to)

    def send(self, message: Message) -> None:
        from reminders import sms

        sms.message_text(message)


def configured_channels() -> list[Channel]:
    return [import_string(path)() for path in settings.REMINDER_CHANNELS]
