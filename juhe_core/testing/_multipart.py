"""``multipart/form-data`` bodies read with the standard library's ``email`` parser.

Used by ``/v1/images/edits``. The stdlib parser keeps binary parts intact (they are
decoded as bytes with ``surrogateescape`` and encoded back), so no third-party multipart
package is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

__all__ = ["Form", "UploadedFile", "parse_form"]


@dataclass(frozen=True)
class UploadedFile:
    """One file field of a form."""

    filename: str
    """The client's file name."""
    data: bytes
    """The file's bytes."""
    content_type: str
    """The part's ``Content-Type`` (``application/octet-stream`` when absent)."""


@dataclass(frozen=True)
class Form:
    """A parsed form: text fields (the last value wins) and files per field name."""

    fields: dict[str, str] = field(default_factory=dict)
    """Text fields."""
    files: dict[str, list[UploadedFile]] = field(default_factory=dict)
    """File fields, in order, by field name."""


def parse_form(content_type: str, body: bytes) -> Form | None:
    """The form in ``body``, or ``None`` when it is not a well-formed multipart body."""
    if (
        not content_type.lower().startswith("multipart/form-data")
        or "boundary=" not in content_type
    ):
        return None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        return None
    form = Form()
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            form.fields[name] = data.decode("utf-8", "replace")
        else:
            upload = UploadedFile(filename, data, part.get_content_type())
            form.files.setdefault(name, []).append(upload)
    return form
