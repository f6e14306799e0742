"""Abstract tables of the transport. Each department has its own concrete copies (named
OutboxMessage, InboxMessage and DeadLetter in its models module), so that either could move to
a database of its own."""

import uuid

from django.db import models


class OutboxState(models.TextChoices):
    PENDING = "pending", "Pending"  # written, not sent yet (or its last publish failed)
    AWAITING_ACK = "awaiting_ack", "Sent, awaiting acknowledgement"
    DONE = "done", "Done"  # acknowledged by the consumer
    # Given up after MESSAGING_MAX_ATTEMPTS (never acknowledged, or never published): staff
    # re-drive it. Not a dead letter: those are what a consumer refused or could not apply.
    ABANDONED = "abandoned", "Abandoned"


class AbstractOutboxMessage(models.Model):
    """A message written in the same transaction as the change it reports."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64)
    correlation_id = models.CharField(max_length=64, db_index=True)
    envelope = models.JSONField(help_text="The signed envelope, sent as it is on every attempt.")
    state = models.CharField(max_length=20, choices=OutboxState.choices, default=OutboxState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    acked_at = models.DateTimeField(null=True, blank=True)

    objects = models.Manager()  # spelt out: an abstract model's manager is inherited, but not typed

    class Meta:
        abstract = True
        ordering = ["-created_at"]
        indexes = [
            # What the relay asks for: only the (few) rows still in flight are indexed.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state__in=["pending", "awaiting_ack"]),
                name="%(app_label)s_outbox_due",
            ),
            models.Index(fields=["state", "created_at"], name="%(app_label)s_outbox_state"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class AbstractInboxMessage(models.Model):
    """A message applied by this department, recorded in the same transaction as its effect."""

    message_id = models.UUIDField(primary_key=True)
    type = models.CharField(max_length=64)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = models.Manager()  # spelt out: an abstract model's manager is inherited, but not typed

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.type} {self.message_id}"


class DeadLetterState(models.TextChoices):
    DEAD = "dead", "Dead"
    REDRIVEN = "redriven", "Re-driven"


class AbstractDeadLetter(models.Model):
    """A message this department refused (bad signature, unknown version) or failed to apply."""

    message_id = models.UUIDField(null=True, blank=True, unique=True)
    type = models.CharField(max_length=64, blank=True)
    task_name = models.CharField(max_length=100)
    envelope = models.JSONField(help_text="The message exactly as it arrived.")
    reason = models.CharField(max_length=200)
    error = models.TextField(blank=True)
    state = models.CharField(max_length=20, choices=DeadLetterState.choices, default=DeadLetterState.DEAD)
    times_seen = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    redriven_at = models.DateTimeField(null=True, blank=True)

    objects = models.Manager()  # spelt out: an abstract model's manager is inherited, but not typed

    class Meta:
        abstract = True
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"{self.type or 'unknown'} {self.message_id or ''}: {self.reason}"
