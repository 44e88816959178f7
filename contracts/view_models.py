"""The read API's response models, rendered from the marts' enforced dbt contracts.

A mart's YAML names the columns the read API answers with (``meta.read_api``: the model's
name and its columns, in order); their types and nullability are the ones the contract
declares. ``python -m contracts.generate`` writes ``services/read_api/view_models.py``, so
a column added to a mart and to that list reaches the read API and its OpenAPI document
without a second declaration.
"""

from __future__ import annotations

from typing import Any

import yaml

from config.settings import DBT_PROJECT_DIR, REPO_ROOT

MARTS_DIR = DBT_PROJECT_DIR / "models" / "marts"
VIEW_MODELS_FILE = REPO_ROOT / "services" / "read_api" / "view_models.py"

# dbt contract type -> (Python type, the import it needs)
PYTHON_TYPES: dict[str, tuple[str, str | None]] = {
    "uuid": ("UUID", "from uuid import UUID"),
    "text": ("str", None),
    "timestamptz": ("datetime", "from datetime import datetime"),
    "date": ("date", "from datetime import date"),
    "integer": ("int", None),
    "bigint": ("int", None),
    "boolean": ("bool", None),
    "numeric": ("Decimal", "from decimal import Decimal"),
}

HEAD = '''"""Response models of the read API, one per mart it serves.

Generated from the marts' dbt contracts (``meta.read_api`` in dbt_project/models/marts/) by
``python -m contracts.generate``: do not edit by hand.
"""

from __future__ import annotations

'''


def served_marts() -> list[dict[str, Any]]:
    """The mart models whose YAML names a read API answer, in file order."""
    marts = []
    for path in sorted(MARTS_DIR.glob("*.yml")):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            if model.get("config", {}).get("meta", {}).get("read_api"):
                marts.append(model)
    return marts


def _field(column: dict[str, Any]) -> tuple[str, str | None]:
    """``name: type`` of one served column, and the import its type needs."""
    data_type = str(column.get("data_type", ""))
    if data_type not in PYTHON_TYPES:
        raise ValueError(f"column {column['name']}: no Python type for {data_type!r}")
    python_type, needs = PYTHON_TYPES[data_type]
    required = any(c.get("type") == "not_null" for c in column.get("constraints", []))
    return f"    {column['name']}: {python_type}{'' if required else ' | None'}", needs


def render() -> str:
    """The module: a ``CamelModel`` per served mart, fields typed from its contract."""
    return render_models(served_marts())


def render_models(marts: list[dict[str, Any]]) -> str:
    """The module's text for these mart models (their parsed YAML)."""
    imports: set[str] = set()
    classes = []
    for mart in marts:
        served = mart["config"]["meta"]["read_api"]
        declared = {column["name"]: column for column in mart.get("columns", [])}
        missing = [name for name in served["columns"] if name not in declared]
        if missing:
            raise ValueError(f"{mart['name']}: read_api names undeclared columns {missing}")
        lines = [f"class {served['model']}(CamelModel):", f'    """A row of {mart["name"]}."""', ""]
        for name in served["columns"]:
            line, needs = _field(declared[name])
            lines.append(line)
            imports |= {needs} if needs else set()
        classes.append("\n".join(lines) + "\n")
    stdlib = "\n".join(sorted(imports))
    return (
        HEAD
        + (stdlib + "\n\n" if stdlib else "")
        + "from services.read_api.serving import CamelModel\n\n\n"
        + "\n\n".join(classes)
    )
