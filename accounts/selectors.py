"""Account reads."""

import math

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max
from django.utils import timezone


def account_lockout_seconds(*, username: str) -> int:
    """How long a locked account stays locked, at most: until LOGIN_LOCKOUT_MINUTES after its
    last recorded wrong password (attempts while locked are not recorded, so none extends it)."""
    last = AccessAttempt.objects.filter(username=username).aggregate(last=Max("attempt_time"))["last"]
    ends = (last or timezone.now()) + settings.AXES_COOLOFF_TIME
    return max(1, math.ceil((ends - timezone.now()).total_seconds()))
