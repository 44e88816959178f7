"""The ingest's pass runs with the cyclic collector off, and leaves it as it found it."""

from __future__ import annotations

import gc

import pytest

from ingest.batches import collector_off


def test_the_collector_is_off_inside_and_back_on_after_even_when_the_pass_fails() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_off():
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0  # what lived before is not rescanned
        raise RuntimeError("the pass failed")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_off():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
