"""Staging models generated from a payload contract, for event types staged by rule."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from contracts import staging_models
from contracts.catalog import BY_NAME


def test_a_staging_model_casts_each_field_as_its_contract_says() -> None:
    cancelled = dataclasses.replace(BY_NAME["order.cancelled"], staged_by_hand=False)
    sql = staging_models.render_sql(cancelled)
    assert "from {{ source('raw', 'order_cancelled') }}" in sql
    assert "{{ uuid_or_null(\"source.payload ->> 'order_id'\") }} as order_id," in sql
    assert "source.payload ->> 'reason' as reason," in sql
    # A required field no cast could take leaves the row out (the quarantine lists it).
    assert sql.rstrip().endswith("where renamed.order_id is not null")
    model = yaml.safe_load(staging_models.render_yml(cancelled))["models"][0]
    assert model["name"] == "stg_orders__cancelled"
    columns = {c["name"]: c for c in model["columns"]}
    assert list(columns)[:3] == ["event_id", "order_id", "reason"]
    assert columns["order_id"]["data_tests"] == ["not_null"]
    assert "data_tests" not in columns["reason"]  # required, but may be null
    assert "ingest_txid" in columns and "occurred_at" in columns


def test_an_event_with_an_upcast_must_be_staged_by_hand() -> None:
    stock = dataclasses.replace(BY_NAME["stock.updated"], staged_by_hand=False)
    with pytest.raises(ValueError, match="its upcast is written by hand"):
        staging_models.staged_by_rule((stock,))
