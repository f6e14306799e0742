"""The migrations describe the models as they are: a model change without its migration fails here."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone


@pytest.mark.django_db
def test_no_model_change_lacks_its_migration(capsys):
    call_command("makemigrations", "--check", "--dry-run")

    assert capsys.readouterr().out == "No changes detected\n"


@pytest.fixture
def migrate(transactional_db):
    """Migrate the test database to the given nodes; afterwards, to the latest again."""

    def to(*nodes):
        executor = MigrationExecutor(connection)
        executor.migrate(list(nodes))
        return executor.loader.project_state(list(nodes)).apps

    yield to
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.parametrize(
    ("app", "before", "after"),
    [
        ("sales", "0001_initial", "0002_outbox_state_abandoned"),
        ("delivery", "0002_delivery_clerks_group", "0003_outbox_state_abandoned"),
    ],
)
def test_outbox_messages_dead_before_the_rename_are_abandoned_after_it(migrate, app, before, after):
    outbox = migrate((app, before)).get_model(app, "OutboxMessage")
    for state in ["dead", "done"]:
        outbox.objects.create(type="t", correlation_id="c", envelope={}, state=state, next_attempt_at=timezone.now())

    outbox = migrate((app, after)).get_model(app, "OutboxMessage")

    assert sorted(outbox.objects.values_list("state", flat=True)) == ["abandoned", "done"]
