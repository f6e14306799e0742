import secrets

# Crockford's base32: no I, L, O, U, so an id read aloud or typed by a clerk is unambiguous.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_public_id(prefix: str) -> str:
    """An opaque, unguessable id: 80 random bits, e.g. ``ORD-7K3M9QX2B4TZ0W1C``."""
    return f"{prefix}-" + "".join(secrets.choice(_ALPHABET) for _ in range(16))
