"""Which commands of a load run have no known outcome, and the retry that asks (pure).

A command answered 503, or not at all (timeout, connection reset), may or may not have
happened. Every HTTP command carries an ``Idempotency-Key``, and a retry with that key
answers what happened (services/idempotency.py): the first 2xx again if an attempt
committed; otherwise the retry runs the command itself, so its 2xx or 4xx is the outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import fields
from typing import Any

from loadtest.expectations import expectations
from loadtest.traffic import Command

NAMESPACE = uuid.UUID("6f1c1d2e-8a57-4d0c-9a43-5f0e3b1c7a10")  # request ids of resolving retries


def unresolved(records: Iterable[dict[str, Any]], sent_after: str = "") -> list[Command]:
    """One resolving retry for each command whose attempts so far leave its outcome unknown.

    ``sent_after`` (ISO 8601, UTC): a command first sent before then is not asked again:
    its key may be purged already, and the retry would run the command a second time.
    """
    listed = list(records)
    first: dict[str, dict[str, Any]] = {}
    tries: dict[str, int] = {}
    for record in listed:
        key = record.get("idempotency_key")
        if key is not None:
            first.setdefault(key, record)
            tries[key] = tries.get(key, 0) + 1
    names = {f.name for f in fields(Command)}
    retries = []
    for command in expectations(listed):
        if command.verdict != "unknown" or command.key not in first:
            continue
        if first[command.key].get("sent_at", sent_after) < sent_after:
            continue
        original = Command(**{k: v for k, v in first[command.key].items() if k in names})
        # Reproducible ids: the same record asks with the same request ids.
        rid = str(uuid.uuid5(NAMESPACE, f"{command.key}/{tries[command.key]}"))
        retries.append(
            Command(
                original.seq,
                rid,
                original.kind,
                original.user,
                original.service,
                original.path,
                body=original.body,
                idempotency_key=original.idempotency_key,
                retry_of=original.id,
                resolves=True,
            )
        )
    return retries
