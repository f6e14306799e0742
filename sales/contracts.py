"""What sales publishes to the other departments. Standard library only: this module is the
one part of sales that another department may import."""

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, ClassVar, Self


@dataclass(frozen=True)
class OrderCreatedItem:
    sku: str
    name: str
    quantity: int


@dataclass(frozen=True)
class OrderCreatedAddress:
    name: str
    line1: str
    line2: str
    city: str
    postal_code: str
    country: str


@dataclass(frozen=True)
class OrderCreated:
    """A confirmed order, to be shipped."""

    TYPE: ClassVar[str] = "order.created"
    VERSION: ClassVar[int] = 1

    order_id: str
    items: tuple[OrderCreatedItem, ...]
    shipping_address: OrderCreatedAddress
    created_at: str  # ISO 8601, UTC

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "items": [asdict(item) for item in self.items]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        items = tuple(
            OrderCreatedItem(sku=i["sku"], name=i["name"], quantity=int(i["quantity"])) for i in data["items"]
        )
        if not items:
            raise ValueError("an order has at least one item")
        return cls(
            order_id=str(data["order_id"]),
            items=items,
            shipping_address=OrderCreatedAddress(**data["shipping_address"]),
            created_at=str(data["created_at"]),
        )


@dataclass(frozen=True)
class OrderCancellationRequested:
    """The customer or staff asked to cancel an order: delivery cancels its shipment if it has
    not left yet, and answers with delivery.contracts.ShipmentCancellationDecided. It may arrive
    before the order's OrderCreated, and more than once."""

    TYPE: ClassVar[str] = "order.cancellation_requested"
    VERSION: ClassVar[int] = 1

    order_id: str
    requested_at: str  # ISO 8601, UTC
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(
            order_id=str(data["order_id"]),
            requested_at=datetime.fromisoformat(str(data["requested_at"])).isoformat(),
            reason=str(data.get("reason", ""))[:200],
        )
