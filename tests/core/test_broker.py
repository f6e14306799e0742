"""The Redis transport's workaround (core.broker): a worker whose connection is gone when it
gives unacknowledged messages back does not crash."""

import logging

import pytest
from django.conf import settings
from kombu import Connection
from kombu.transport import redis as kombu_redis

from core.broker import Transport


def a_channel_holding_a_message_whose_connection_is_gone(transport):
    connection = Connection(settings.REDIS_URL, transport=transport)
    channel = connection.channel()
    channel.qos._delivered["tag-1"] = None  # a message delivered, not yet acknowledged
    channel._pool = None
    channel.connection.client = None  # what a lost connection leaves behind
    return channel


def test_the_workaround_is_the_brokers_transport():
    assert settings.CELERY_BROKER_TRANSPORT == "core.broker:Transport"


def test_kombus_own_transport_crashes_there():
    channel = a_channel_holding_a_message_whose_connection_is_gone(kombu_redis.Transport)

    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'hostname'"):
        channel.qos.restore_unacked()
    channel.qos._delivered.clear()  # or kombu tries again when the channel is collected


def test_ours_logs_it_and_goes_on(caplog):
    channel = a_channel_holding_a_message_whose_connection_is_gone(Transport)

    with caplog.at_level(logging.WARNING, logger="core.broker"):
        channel.qos.restore_unacked()

    [record] = caplog.records
    assert record.messages == 1
    assert record.error == "AttributeError(\"'NoneType' object has no attribute 'hostname'\")"
    assert dict(channel.qos._delivered) == {}
