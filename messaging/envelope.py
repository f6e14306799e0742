"""The envelope every message between the departments travels in, and its signature.

A message is a JSON object: id, type, version, occurred_at, correlation_id, source, payload,
key_id and signature. The signature is HMAC-SHA256, keyed with MESSAGE_SIGNING_KEY, over the
canonical JSON of every other field. ``key_id`` names the key (a hash of it), so during a key
rotation messages signed with the old key (MESSAGE_SIGNING_OLD_KEYS) are still accepted.
An acknowledgement is signed with the same keys: ``<message id> <key_id> <signature>``.
See docs/messaging.md."""

import hashlib
import hmac
import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, Self

from django.conf import settings

SIGNED_FIELDS = ("id", "type", "version", "occurred_at", "correlation_id", "source", "payload")


class Contract(Protocol):
    """What each department's ``contracts`` module publishes: a versioned, frozen dataclass that
    the sender turns into a payload (``to_dict``) and the receiver reads back (``from_dict``)."""

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self: ...


class InvalidMessage(Exception):
    """The message cannot be trusted or understood; it is never applied and never retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Envelope:
    type: str
    version: int
    source: str
    payload: dict[str, Any]
    correlation_id: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def signed(self) -> dict[str, Any]:
        """The envelope as it goes on the wire, signed with the current key."""
        body = asdict(self)
        key = settings.MESSAGE_SIGNING_KEY
        return {**body, "key_id": key_id(key), "signature": _sign(body, key)}

    @property
    def occurred(self) -> datetime:
        return datetime.fromisoformat(self.occurred_at)


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _sign(body: dict[str, Any], key: str) -> str:
    canonical = json.dumps(
        {name: body[name] for name in SIGNED_FIELDS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return _mac(canonical, key)


def _mac(text: str, key: str) -> str:
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def _ack_text(message_id: str, recipient: str) -> str:
    # Not JSON, so never the text of an envelope's signature; the recipient in it, so an
    # acknowledgement of one department's message is worth nothing on another's list.
    return f"message.acknowledged {recipient} {message_id}"


def _keys() -> dict[str, str]:
    keys = [settings.MESSAGE_SIGNING_KEY, *settings.MESSAGE_SIGNING_OLD_KEYS]
    return {key_id(key): key for key in keys}


def verify(raw: Any) -> Envelope:
    """The envelope of a message from the wire, if its signature holds; else InvalidMessage."""
    if not isinstance(raw, dict):
        raise InvalidMessage("malformed: not an object")
    if not raw.get("signature"):
        raise InvalidMessage("unsigned")
    given_key_id = raw.get("key_id")
    # Not a string (a list, say): no key of ours; as a dict key it would raise TypeError instead.
    key = _keys().get(given_key_id) if isinstance(given_key_id, str) else None
    if key is None:
        raise InvalidMessage("unknown signing key")
    try:
        expected = _sign(raw, key)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidMessage(f"malformed: {exc}") from exc
    if not hmac.compare_digest(expected, str(raw["signature"])):
        raise InvalidMessage("bad signature")
    try:
        return Envelope(**{name: raw[name] for name in SIGNED_FIELDS})
    except TypeError as exc:
        raise InvalidMessage(f"malformed: {exc}") from exc


def ack_sign(*, message_id: str, recipient: str) -> str:
    """The acknowledgement of ``recipient``'s message ``message_id`` as it goes on the wire,
    signed with the current key: ``<message id> <key_id> <signature>``."""
    key = settings.MESSAGE_SIGNING_KEY
    return f"{message_id} {key_id(key)} {_mac(_ack_text(message_id, recipient), key)}"


def ack_verify(raw: bytes | str, *, recipient: str) -> str:
    """The id of the message an acknowledgement from ``recipient``'s list acknowledges, if its
    signature holds (with the current key or an old one); else InvalidMessage."""
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise InvalidMessage("malformed: not text") from exc
    parts = text.split(" ")
    if len(parts) != 3:
        raise InvalidMessage("malformed: not <message id> <key id> <signature>")
    message_id, given_key_id, signature = parts
    key = _keys().get(given_key_id)
    if key is None:
        raise InvalidMessage("unknown signing key")
    # As bytes: compare_digest refuses a str with non-ASCII characters.
    if not hmac.compare_digest(_mac(_ack_text(message_id, recipient), key).encode(), signature.encode()):
        raise InvalidMessage("bad signature")
    try:
        return str(uuid.UUID(message_id))
    except ValueError as exc:  # every id we sign is a UUID; anything else must not reach a query
        raise InvalidMessage(f"malformed: {exc}") from exc
