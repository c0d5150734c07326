"""The configuration table of the README, generated from `Settings` so the two cannot drift."""

from __future__ import annotations

from pydantic import BaseModel

from config.settings import ENV_PREFIX, Settings, section_of


def _rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for name, field in model.model_fields.items():
        section = section_of(field)
        if section is not None:
            rows += _rows(section, f"{prefix}{name.upper()}__")
            continue
        default = field.get_default(call_default_factory=True)
        if default is None:
            shown = "unset"
        elif hasattr(default, "value"):
            shown = f"`{default.value}`"
        elif name == "field_mapping_file":
            shown = "`config/field_mapping.toml`"
        else:
            shown = f"`{default}`"
        rows.append((f"`{prefix}{name.upper()}`", shown, field.description or ""))
    return rows


def config_table() -> str:
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    lines += [f"| {v} | {d} | {m} |" for v, d, m in _rows(Settings, ENV_PREFIX)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(config_table())
