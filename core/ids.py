import secrets

# Crockford's base32: no I, L, O, U, so an id read aloud or typed by a clerk is unambiguous.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_public_id(prefix: str) -> str:
    """An opaque, unguessable id: 80 random bits, e.g. ``ORD-7K3M9QX2B4TZ0W1C``."""
    return f"{prefix}-" + "".join(secrets.choice(_ALPHABET) for _ in range(16))


# What a public id could look like in a URL: letters, digits and '-', no longer than the
# columns holding them (20). Anything else (a NUL, a control character, 10,000 characters)
# cannot name a row, so the URL does not match and the answer is a 404 without a query.
PUBLIC_ID_PATTERN = r"[0-9A-Za-z-]{1,20}"


class PublicIdConverter:
    """``<public_id:...>`` in a path(): a string matching PUBLIC_ID_PATTERN."""

    regex = PUBLIC_ID_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
