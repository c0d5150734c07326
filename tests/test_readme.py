"""The README's configuration table is the one `Settings` generates."""

from pathlib import Path

from config.table import config_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_configuration_table_matches_settings():
    assert config_table() in README.read_text(encoding="utf-8"), (
        "README's configuration table is stale: run `uv run python -m config.table`"
    )


def test_readme_names_the_two_setup_commands():
    text = README.read_text(encoding="utf-8")
    assert "uv run cardsync demo" in text
    assert "uv run pytest" in text


def test_emulator_doc_is_the_module_docstring():
    import emulators.salesforce as emulator

    doc = (README.parent / "docs" / "emulator.md").read_text(encoding="utf-8")
    assert emulator.__doc__.strip() in doc, "regenerate docs/emulator.md from the docstring"
