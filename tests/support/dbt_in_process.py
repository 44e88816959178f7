"""dbt in the test process, parsed once: for tests and benchmarks that run it many times."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from config.settings import Settings
from pipeline.dbt import PROJECT_ARGS, DbtFailed, dbt_env, dbt_session_env


class InProcessDbt:
    """dbt in this process with the project parsed once: about 0.5 s a run instead of 6.

    For callers that run dbt many times (the replay tests, the benchmark). The pipeline
    uses ``run_dbt``: a subprocess keeps dbt's global state out of the Airflow task.
    """

    def __init__(self, settings: Settings) -> None:
        from dbt.cli.main import dbtRunner
        from dbt.contracts.graph.manifest import Manifest

        # profiles.yml reads the connection from the environment, at every invocation.
        connection = {k: v for k, v in dbt_env(settings).items() if k.startswith("CQRSW_DBT_")}
        self._env = {**connection, **dbt_session_env(settings)}
        with self._environment():
            parsed = dbtRunner().invoke(["parse", *PROJECT_ARGS, "--quiet"])
        if not parsed.success or not isinstance(parsed.result, Manifest):
            raise DbtFailed(f"dbt parse failed: {parsed.exception}")
        self._manifest = parsed.result
        self._runner = dbtRunner(manifest=parsed.result)

    @contextmanager
    def _environment(self) -> Iterator[None]:
        saved = {k: os.environ.get(k) for k in self._env}
        os.environ.update(self._env)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def _forget_compiled_ctes(self) -> None:
        """Undo what the last invocation's compilation left on the shared manifest.

        dbt marks a node whose ephemeral models it has prepended as CTEs and keeps an
        ephemeral's compiled SQL; with the manifest reused, the next invocation would
        compile a mart without its CTEs, or with an ephemeral compiled for the previous
        horizon. A fresh ``dbt`` process (the pipeline's ``run_dbt``) starts clean.
        """
        from dbt.contracts.graph.nodes import CompiledNode

        for node in self._manifest.nodes.values():
            if isinstance(node, CompiledNode) and (node.extra_ctes_injected or node.compiled):
                node.extra_ctes_injected = False
                node.extra_ctes = []
                node._pre_injected_sql = None
                node.compiled = False

    def __call__(self, *args: str) -> Any:
        """Run one dbt command; raise ``DbtFailed`` naming the nodes that failed."""
        self._forget_compiled_ctes()
        with self._environment():
            done = self._runner.invoke([*args, *PROJECT_ARGS, "--quiet"])
        if not done.success:
            failures = [
                f"{r.node.name}: {r.status} {r.message}"
                for r in getattr(done.result, "results", [])
                if str(r.status) not in ("success", "pass", "warn")
            ]
            raise DbtFailed(f"dbt {' '.join(args)} failed: {failures or done.exception}")
        return done.result
