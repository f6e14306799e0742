"""Reading the app's Prometheus metrics in tests."""

from prometheus_client.parser import text_string_to_metric_families


def scrape(client) -> dict[tuple[str, tuple], float]:
    """Every sample GET /metrics serves, by name and labels."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples
