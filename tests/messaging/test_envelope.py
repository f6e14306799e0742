import pytest

from delivery.contracts import ShipmentStatusChanged
from messaging.envelope import Envelope, InvalidMessage, key_id, verify
from tests.factories import ORDER_CREATED, SHIPMENT_SHIPPED


@pytest.mark.parametrize("message", [ORDER_CREATED, SHIPMENT_SHIPPED], ids=["order.created", "shipment.status_changed"])
def test_contracts_round_trip(message):
    assert type(message).from_dict(message.to_dict()) == message


def test_order_created_on_the_wire():
    assert ORDER_CREATED.to_dict() == {
        "order_id": "ORD-0000000000000001",
        "items": [{"sku": "MUG-1", "name": "Mug", "quantity": 2}, {"sku": "TEE", "name": "Tee", "quantity": 1}],
        "shipping_address": {
            "name": "Ada",
            "line1": "Main St 1",
            "line2": "",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        "created_at": "2026-11-28T10:00:00+00:00",
    }


def test_status_changed_refuses_an_unknown_status():
    with pytest.raises(ValueError, match="unknown shipment status 'lost'"):
        ShipmentStatusChanged.from_dict({**SHIPMENT_SHIPPED.to_dict(), "status": "lost"})


def signed(**overrides):
    envelope = Envelope(
        type="order.created", version=1, source="sales", payload=ORDER_CREATED.to_dict(), correlation_id="c-1"
    )
    return {**envelope.signed(), **overrides}


def test_a_signed_message_verifies(settings):
    raw = signed()

    envelope = verify(raw)

    assert envelope.payload == ORDER_CREATED.to_dict()
    assert (envelope.type, envelope.version, envelope.source, envelope.correlation_id) == (
        "order.created",
        1,
        "sales",
        "c-1",
    )
    assert raw["key_id"] == key_id(settings.MESSAGE_SIGNING_KEY)
    assert len(raw["signature"]) == 64


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda raw: {**raw, "payload": {**raw["payload"], "order_id": "ORD-OTHER"}}, "bad signature"),
        (lambda raw: {**raw, "type": "shipment.status_changed"}, "bad signature"),
        (lambda raw: {**raw, "signature": "0" * 64}, "bad signature"),
        (lambda raw: {key: value for key, value in raw.items() if key != "signature"}, "unsigned"),
        (lambda raw: {**raw, "signature": ""}, "unsigned"),
        (lambda raw: {**raw, "key_id": "deadbeef0000"}, "unknown signing key"),
        (lambda raw: {**raw, "key_id": ["a", "list"]}, "unknown signing key"),
        (lambda raw: {key: value for key, value in raw.items() if key != "payload"}, "malformed: 'payload'"),
        (lambda raw: ["not", "an", "object"], "malformed: not an object"),
    ],
    ids=[
        "payload",
        "type",
        "signature",
        "no-signature",
        "empty-signature",
        "unknown-key",
        "unhashable-key-id",
        "no-payload",
        "list",
    ],
)
def test_a_tampered_or_unsigned_message_is_refused(tamper, reason):
    with pytest.raises(InvalidMessage) as refused:
        verify(tamper(signed()))

    assert refused.value.reason == reason


def test_a_message_signed_with_another_secret_is_refused(settings):
    raw = signed()
    settings.MESSAGE_SIGNING_KEY = "some-other-secret"

    with pytest.raises(InvalidMessage, match="unknown signing key"):
        verify(raw)


def test_during_rotation_the_old_key_is_still_accepted(settings):
    settings.MESSAGE_SIGNING_KEY = "old-secret"
    raw = signed()
    settings.MESSAGE_SIGNING_KEY = "new-secret"
    settings.MESSAGE_SIGNING_OLD_KEYS = ["old-secret"]

    assert verify(raw).id == raw["id"]
    assert signed()["key_id"] == key_id("new-secret")
