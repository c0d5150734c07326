"""`cardsync demo` as a user runs it: its own redis-server and emulator, real worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from demo.synthetic import generate_labeled_cards, write_csv


def run_cli(
    *args: str, cwd: Path, entry: tuple[str, ...] = ("-m", "workers.commands.main")
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSYNC_")}
    return subprocess.run(
        [sys.executable, *entry, *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_demo_syncs_generated_cards_and_dumps_the_org(tmp_path):
    result = run_cli(
        "demo", "--cards", "400", "--json", "--dump", str(tmp_path / "dump"), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["drained"] is True
    assert summary["cards_read"] == 400
    assert summary["rejected"] + summary["cards_merged"] == 400
    assert summary["contacts_created"] == summary["persons"] > 0
    assert summary["cards_written"] == summary["cards_merged"]
    assert summary["record_errors"] == 0
    contacts = (tmp_path / "dump" / "Contact.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(contacts) == summary["persons"]
    assert all(json.loads(line)["Sansan_Person_Id__c"] for line in contacts)
    users = (tmp_path / "dump" / "User.jsonl").read_text(encoding="utf-8")
    assert "integration@cardsync.example" in users


def test_demo_reads_a_file_and_reports_its_rejects(tmp_path):
    rows = [row for row, _ in generate_labeled_cards(120, seed=5, bad_rate=0.1)]
    bad = sum(
        1 for _, label in generate_labeled_cards(120, seed=5, bad_rate=0.1) if label == "reject"
    )
    path = tmp_path / "export.csv"
    write_csv(path, rows, encoding="utf-8-sig")
    result = run_cli("demo", "--input", str(path), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["cards_read"] == 120
    assert summary["rejected"] == bad > 0


def test_demo_with_a_file_missing_a_required_header_says_which(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text("会社名,メールアドレス\n株式会社サンプル,a@example.co.jp\n", encoding="utf-8")
    result = run_cli("demo", "--input", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert "氏名[姓]" in result.stderr or "lastName" in result.stderr


def test_demo_without_faker_says_what_to_install(tmp_path):
    # The production image leaves out the `demo` dependency group; None in sys.modules hides faker.
    hide_faker = (
        "import sys; sys.modules['faker'] = None; sys.argv = ['cardsync', 'demo'];"
        "from workers.commands.main import main; main()"
    )
    result = run_cli(cwd=tmp_path, entry=("-c", hide_faker))
    assert result.returncode == 2
    assert result.stderr.startswith("error: generating demo cards needs faker")
    assert "uv sync --group demo" in result.stderr
    assert "Traceback" not in result.stderr
