"""Owner overrides administered one at a time and in bulk from CSV, against the emulator's users."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from emulators.salesforce.server import start_emulator
from pipeline.owners import OwnerDecision, OwnerReason, SansanOwner
from tests.integration.harness import pipeline_env, runtime_for
from workers.ops.mapping_admin import (
    MappingError,
    export_csv,
    import_csv,
    mapping_rows,
    set_override,
)


@pytest.fixture()
def rt(redis_server, redis_client, tmp_path):
    emulator = start_emulator(data_dir=tmp_path / "emulator")
    env = pipeline_env(redis_server.url, emulator)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        runtime = runtime_for(env)
        runtime.env = env  # for the CLI subprocess below
        yield runtime
    emulator.stop()


def seen(rt, *owners: tuple[str, str]) -> None:
    directory = rt.directory.get()
    rt.owners.record_seen(
        {
            user_id.lower(): (
                SansanOwner(user_id, email, "name"),
                OwnerDecision(directory.default_user_id, OwnerReason.NO_MATCH),
            )
            for user_id, email in owners
        }
    )


def test_set_override_accepts_only_users_who_can_own_records(rt):
    user_id = set_override(rt, "U0008", "TANAKA@example.co.jp")
    assert rt.owners.overrides() == {"u0008": user_id}
    for username, reason in (
        ("takahashi@example.co.jp", "inactive"),
        ("ito@example.co.jp", "Chatter Free"),
        ("nobody@example.co.jp", "no Salesforce user"),
    ):
        with pytest.raises(MappingError, match=reason):
            set_override(rt, "U0008", username)


def test_show_and_export_list_each_sansan_user_with_owner_and_reason(rt):
    seen(rt, ("U0001", "tanaka@example.co.jp"), ("U0008", "nomatch@example.co.jp"))
    set_override(rt, "U0008", "sato@example.co.jp")
    rows = {r.sansan_user: r for r in mapping_rows(rt)}
    assert rows["u0008"].salesforce_username == "sato@example.co.jp"
    assert rows["u0008"].reason == "override" and rows["u0008"].override
    assert rows["u0001"].salesforce_username == "integration@cardsync.example"
    text = export_csv(list(rows.values()))
    assert (
        text.splitlines()[0]
        == "sansan_user,sansan_email,sansan_name,salesforce_username,reason,override"
    )


def test_csv_import_is_all_or_nothing_and_names_bad_lines(rt, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "sansan_user,salesforce_username\nU0001,sato@example.co.jp\nU0002,ito@example.co.jp\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as error:
        import_csv(rt, bad)
    assert f"{bad}:3: salesforce_username" in str(error.value)
    assert rt.owners.overrides() == {}

    good = tmp_path / "good.csv"
    good.write_text(
        "sansan_user,salesforce_username\nU0001,sato@example.co.jp\nU0002,suzuki@example.co.jp\n",
        encoding="utf-8",
    )
    assert import_csv(rt, good) == 2
    assert set(rt.owners.overrides()) == {"u0001", "u0002"}
    # a blank username removes the override
    good.write_text("sansan_user,salesforce_username\nU0001,\n", encoding="utf-8")
    import_csv(rt, good)
    assert set(rt.owners.overrides()) == {"u0002"}


def test_cli_mapping_import_refuses_a_bad_file_with_exit_2(rt, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "sansan_user,salesforce_username\nU0001,nobody@example.co.jp\n", encoding="utf-8"
    )
    result = subprocess.run(
        [sys.executable, "-m", "workers.commands.main", "mapping", "import", str(bad)],
        env={**os.environ, **rt.env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "nothing imported" in result.stderr and "nobody@example.co.jp" in result.stderr
