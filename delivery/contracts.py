"""What delivery publishes to the other departments. Standard library only: this module is the
one part of delivery that another department may import."""

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, ClassVar, Self

SHIPPED = "shipped"
DELIVERED = "delivered"

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
