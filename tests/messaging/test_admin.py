import pytest

from delivery.models import DeadLetter as DeliveryDeadLetter
from delivery.models import Shipment
from messaging.models import OutboxState
from sales.models import OutboxMessage as SalesOutbox
from tests.clients import session_client
from tests.factories import (
    DeliveryDeadLetterFactory,
    DeliveryOutboxMessageFactory,
    SalesDeadLetterFactory,
    SalesOutboxMessageFactory,
    ShipmentFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/admin/sales/outboxmessage/",
        "/admin/sales/outboxmessage/?state__exact=abandoned",
        "/admin/sales/deadletter/",
        "/admin/delivery/outboxmessage/",
        "/admin/delivery/deadletter/?state__exact=dead",
        "/admin/delivery/shipment/",
        "/admin/delivery/shipment/?status__exact=pending",
        "/admin/delivery/shipment/?q=ORD",
    ],
)
def test_messaging_pages_render_for_staff(staff_browser, path):
    SalesOutboxMessageFactory(state=OutboxState.ABANDONED, last_error="not acknowledged after 20 attempts")
    SalesDeadLetterFactory()
    DeliveryOutboxMessageFactory()
    DeliveryDeadLetterFactory()
    ShipmentFactory()

    assert staff_browser.get(path).status_code == 200


def test_outbox_and_shipment_detail_pages_render(staff_browser):
    row = SalesOutboxMessageFactory()
    shipment = ShipmentFactory()

    assert staff_browser.get(f"/admin/sales/outboxmessage/{row.pk}/change/").status_code == 200
    assert staff_browser.get(f"/admin/delivery/shipment/{shipment.pk}/change/").status_code == 200


def test_staff_re_drive_abandoned_outbox_messages(staff_browser):
    abandoned = SalesOutboxMessageFactory(state=OutboxState.ABANDONED, attempts=20)
    done = SalesOutboxMessageFactory(state=OutboxState.DONE, attempts=1)

    response = staff_browser.post(
        "/admin/sales/outboxmessage/", {"action": "redrive", "_selected_action": [str(abandoned.pk), str(done.pk)]}
    )

    assert response.status_code == 302
    assert dict(SalesOutbox.objects.values_list("pk", "state")) == {abandoned.pk: "pending", done.pk: "done"}


def test_staff_re_drive_a_dead_letter(staff_browser, broker):
    broker.deliver = False
    letter = DeliveryDeadLetterFactory()

    response = staff_browser.post(
        "/admin/delivery/deadletter/", {"action": "redrive", "_selected_action": [str(letter.pk)]}, follow=True
    )

    assert [str(message) for message in response.context["messages"]] == ["1 applied, 0 still failing."]
    assert DeliveryDeadLetter.objects.get().state == "redriven"
    assert Shipment.objects.get().order_id == "ORD-0000000000000001"


def test_non_staff_cannot_see_messages(customer):
    client = session_client(customer)

    response = client.get("/admin/sales/outboxmessage/")

    assert response.status_code == 302
