"""The outbox gauges, read from the database when /metrics is scraped (core.metrics), so they are
right whichever process answers."""

from collections.abc import Iterator

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from messaging.models import OutboxState
from messaging.registry import departments


class OutboxCollector:
    """Messages still in flight per department, and how old the oldest one is."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pending = GaugeMetricFamily("outbox_pending", "Messages not yet acknowledged (or sent)", labels=["app"])
        oldest = GaugeMetricFamily(
            "outbox_oldest_pending_age_seconds", "Age of the oldest message not yet acknowledged", labels=["app"]
        )
        now = timezone.now()
        for each in departments():
            row = each.outbox.objects.filter(state__in=[OutboxState.PENDING, OutboxState.AWAITING_ACK]).aggregate(
                count=Count("pk"), oldest=Min("created_at")
            )
            pending.add_metric([each.label], row["count"])
            oldest.add_metric([each.label], (now - row["oldest"]).total_seconds() if row["oldest"] else 0.0)
        yield pending
        yield oldest
