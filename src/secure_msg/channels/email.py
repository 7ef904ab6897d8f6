"""E-mail notices over SMTP (aiosmtplib): invitation links and content-free pings only.

The body is a rendered notice template (DESIGN §1.2); the subject is fixed per language and
says nothing. Outcomes use the SMS gateway's types so the outbox treats both alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage

import aiosmtplib

from secure_msg.channels.sms import Failed, RetryLater, SendResult, Sent
from secure_msg.channels.sms_retry import FailureKind
from secure_msg.model.notice_templates import NoticeKind

SUBJECTS = {"fi": "Ilmoitus", "sv": "Meddelande", "en": "Notification"}


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    from_address: str
    starttls: bool = False
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 10.0


class SmtpEmailSender:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    async def __call__(self, to: str, kind: NoticeKind, language: str, text: str) -> SendResult:
        if kind not in (NoticeKind.INVITATION, NoticeKind.NEW_ENTRY_PING):
            return Failed(FailureKind.REJECTED, attempts=0)  # e-mail carries links only
        s = self.settings
        message = EmailMessage()
        message["From"] = s.from_address
        message["To"] = to
        message["Subject"] = SUBJECTS.get(language, SUBJECTS["en"])
        message.set_content(text)
        try:
            response = await aiosmtplib.send(
                message, hostname=s.host, port=s.port, start_tls=s.starttls,
                username=s.username or None, password=s.password or None, timeout=s.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused:
            return Failed(FailureKind.INVALID_NUMBER, attempts=1)
        except (aiosmtplib.SMTPException, OSError):
            return RetryLater(30.0, FailureKind.CONNECTION, attempts=1)
        return Sent(provider_sid=f"smtp:{str(response[1])[:40]}", attempts=1)
