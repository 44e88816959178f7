"""The topics' ids come from confluent-kafka's AdminClient, as the broker reports them."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient

from config.settings import Settings
from contracts.catalog import TOPICS
from ingest.positions import IngestError, topic_ids
from ingest.reader import make_admin


def test_each_topic_has_the_id_another_client_sees(settings: Settings) -> None:
    with make_admin(settings) as admin:
        ids = topic_ids(admin, list(TOPICS))
    other = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        seen = {t["name"]: t["topic_id"] for t in other.describe_topics(list(TOPICS))}
    finally:
        other.close()
    assert set(ids) == set(TOPICS)
    assert all(ids.values())
    assert len(set(ids.values())) == len(TOPICS)  # one id per topic
    assert ids == {topic: str(seen[topic]) for topic in TOPICS}


def test_a_topic_the_broker_does_not_describe_stops_the_run(settings: Settings) -> None:
    with (
        make_admin(settings) as admin,
        pytest.raises(IngestError, match=r"describe topic no\.such\.topic"),
    ):
        topic_ids(admin, ["no.such.topic"])
