"""The departments that exchange messages, each with its own outbox, inbox and dead-letter
tables. A department registers itself when Django starts (its AppConfig.ready); the transport
then finds its tables here, never by a model's name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the models are imported once Django has loaded the apps, not before
    from messaging.models import AbstractDeadLetter, AbstractInboxMessage, AbstractOutboxMessage


@dataclass(frozen=True)
class Department:
    label: str  # its app label, the name of its Celery queue and of its tasks' prefix
    outbox: type[AbstractOutboxMessage]
    inbox: type[AbstractInboxMessage]
    dead_letters: type[AbstractDeadLetter]


_departments: dict[str, Department] = {}


def register(department: Department) -> None:
    _departments[department.label] = department


def department(label: str) -> Department:
    return _departments[label]


def departments() -> tuple[Department, ...]:
    return tuple(_departments.values())
