"""What delivery publishes to the other departments. Standard library only: this module is the
one part of delivery that another department may import."""

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, ClassVar, Self

SHIPPED = "shipped"
DELIVERED = "delivered"

# Delivery's answers to a cancellation request.
ACCEPTED = "accepted"  # the shipment was pending, not made yet, or cancelled already: it is cancelled
REFUSED = "refused"  # the parcel has left

# The users who work on shipments (API.md): the group's members have delivery's permissions,
# which the migration that makes the group grants it.
CLERKS_GROUP = "Delivery clerks"


@dataclass(frozen=True)
class ShipmentStatusChanged:
    """A shipment was shipped or delivered."""

    TYPE: ClassVar[str] = "shipment.status_changed"
    VERSION: ClassVar[int] = 1

    shipment_id: str
    order_id: str
    status: str  # "shipped" or "delivered"
    occurred_at: str  # ISO 8601, UTC: when the clerk made the change
    tracking_number: str | None = None

    def __post_init__(self) -> None:
        if self.status not in (SHIPPED, DELIVERED):
            raise ValueError(f"unknown shipment status {self.status!r}")

    @property
    def occurred(self) -> datetime:
        return datetime.fromisoformat(self.occurred_at)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(
            shipment_id=str(data["shipment_id"]),
            order_id=str(data["order_id"]),
            status=str(data["status"]),
            occurred_at=str(data["occurred_at"]),
            tracking_number=data.get("tracking_number"),
        )


@dataclass(frozen=True)
class ShipmentCancellationDecided:
    """Delivery's answer to a cancellation request: "accepted" (the shipment is cancelled and
    will never ship) or "refused" (it has shipped). Sent for every request delivery applies (a
    second request of sales' own, not a copy of the first, is answered again); the answer for an
    order never changes from accepted to refused or back."""

    TYPE: ClassVar[str] = "shipment.cancellation_decided"
    VERSION: ClassVar[int] = 1

    shipment_id: str
    order_id: str
    decision: str  # "accepted" or "refused"
    decided_at: str  # ISO 8601, UTC: when the shipment was cancelled, or when delivery refused

    def __post_init__(self) -> None:
        if self.decision not in (ACCEPTED, REFUSED):
            raise ValueError(f"unknown decision {self.decision!r}")

    @property
    def decided(self) -> datetime:
        return datetime.fromisoformat(self.decided_at)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(
            shipment_id=str(data["shipment_id"]),
            order_id=str(data["order_id"]),
            decision=str(data["decision"]),
            decided_at=datetime.fromisoformat(str(data["decided_at"])).isoformat(),
        )
