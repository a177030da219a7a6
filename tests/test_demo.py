"""`incident-bot demo`: a newcomer sees the whole product work without Slack, from an installed
package (not this checkout), with no Slack settings at all."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _env_without_slack() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "INCIDENT_", "DATABASE_URL", "PYTHONPATH", "METRICS_", "LOG_"))
    }


@pytest.fixture(scope="module")
def installed_python(tmp_path_factory) -> Path:
    """A fresh virtual environment outside the checkout holding a non-editable install of the
    project (a wheel); its dependencies come from the running environment's site-packages."""
    where = tmp_path_factory.mktemp("fresh-venv")
    wheels = where / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    env_dir = where / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Plain path lines: the running environment's own .pth hooks (an editable install) do not run.
    ours = {sysconfig.get_paths()["purelib"]}
    deps = [p for p in sys.path if p.endswith("site-packages")] + sorted(ours)
    (Path(purelib) / "deps-from-test-runner.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    wheel = next(wheels.glob("incident_bot-*.whl"))
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return python


def test_the_demo_plays_the_reference_incident_from_an_installed_package(installed_python, tmp_path):
    elsewhere = tmp_path / "anywhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [str(installed_python), "-m", "bot.cli", "demo", "--out", str(tmp_path / "out")],
        env=_env_without_slack(),
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    where = subprocess.run(
        [str(installed_python), "-c", "import bot; print(bot.__file__)"],
        cwd=elsewhere,
        env=_env_without_slack(),
        capture_output=True,
        text=True,
    ).stdout
    assert str(ROOT) not in where and "site-packages" in where  # the installed copy ran, not this checkout
    out = result.stdout
    # what each person sees, as readable text (no raw Block Kit, no <@U…> markup)
    assert "carol types in #general: /incident declare Checkout API returns 503 sev2" in out
    assert "new channel #inc-2026-06-22-checkout-api-returns-503" in out
    assert "only ann:" in out and "Added *T3* as the *detected* milestone at 2026-06-22 16:05 CEST" in out
    assert "carol reacts with :pushpin:" in out and "the bot reacts :memo: on the message" in out
    assert "== :memo: Postmortem draft: Checkout API returns 503 ==" in out
    assert '"blocks"' not in out and "<@U0" not in out
    # the draft: its path is printed, and it holds the reference incident's key times and timeline
    path = Path(re.search(r"is in: (\S+\.md)$", out.strip()).group(1))
    markdown = path.read_text()
    assert path.parent == tmp_path / "out"
    assert "**Duration:** 45 minutes (14:02–14:47 UTC)" in markdown
    assert "| Detected | 2026-06-22 14:05 | 3 minutes to detect" in markdown
    assert "| Mitigated | 2026-06-22 14:31 | 29 minutes to mitigate" in markdown
    for clock, text in [
        ("14:02", "**[started]** Deploy v2.4.1"),
        ("14:05", "**[detected]** 503 errors rise"),
        ("14:09", "**[acknowledged]** On-call acknowledges"),  # typed as "1m ago" at 14:10
        ("14:23", "Root cause found: DB connection pool exhausted"),  # the pinned message
        ("14:31", "**[mitigated]** Rolled back to v2.4.0"),
        ("14:47", "**[resolved]** Metrics normal, incident closed"),
    ]:
        assert re.search(rf"^- \*\*{clock}\*\* {re.escape(text)}", markdown, re.MULTILINE), (clock, markdown)
    assert "- [ ] Return connections to the pool — owner @ivan — due Thu 25 Jun 2026 — P1" in markdown


def test_the_interactive_demo_answers_what_is_typed_until_quit(tmp_path):
    from bot.demo.script import run_demo

    typed = io.StringIO(
        "/incident declare Queue is backing up sev3\n"
        "/incident timeline 5m ago detected: queue depth alert\n"
        ":pushpin: consumers stuck on a poison message\n"
        "as ann /incident timeline 25:99 nonsense\n"
        "as nobody /incident help\n"
        "quit\n"
    )
    typed = io.StringIO(typed.getvalue().replace("quit\n", "/incident close\nquit\n"))
    shown = io.StringIO()
    assert run_demo(tmp_path, interactive=True, stdin=typed, out=shown) == 0
    out = shown.getvalue()
    assert "#general> /incident declare Queue is backing up sev3" in out  # piped lines are echoed
    saved = re.search(r"is in: (\S+\.md)", out)
    assert saved and "consumers stuck on a poison message" in Path(saved.group(1)).read_text()
    assert "new channel #inc-" in out and "queue-is-backing-up" in out
    assert "as the *detected* milestone" in out and "queue depth alert" in out
    assert "the bot reacts :memo: on the message" in out
    assert "only ann:" in out and "25:99" in out  # the near miss is refused, to ann alone
    assert "I don't know that person" in out
