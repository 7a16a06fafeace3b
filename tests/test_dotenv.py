"""``app.py`` loads ``.env`` before anything reads the environment (issue 11, bug 3).

The subprocess points python-dotenv at a real ``.env`` file in a temporary
folder (the project's own ``.env`` is the user's and is never touched), imports
the app, and reports whether the login that file configures is on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys
import dotenv
real = dotenv.load_dotenv
def load(dotenv_path=None, **kwargs):  # app.py's call reads this test's .env, not the project's
    return real(dotenv_path or sys.argv[1], **kwargs)
dotenv.load_dotenv = load
import app
from chainlit.config import config
print("login on" if config.code.password_auth_callback is not None else "login off")
"""


def test_env_file_settings_reach_modules_set_up_at_import(tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    (tmp_path / "run").mkdir()  # the working folder has no .env, so Chainlit's own loading finds nothing
    env_file = tmp_path / "cfg" / ".env"
    env_file.write_text("CHAT_USERNAME=alice\nCHAT_PASSWORD=wonderland\nCHAINLIT_AUTH_SECRET=" + "s" * 40 + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAT_", "CHAINLIT_", "CI"))}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(env_file)],
        cwd=tmp_path / "run", env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "login on"


SECRET_PROBE = """
import os
import app
print("secret set" if os.environ.get("CHAINLIT_AUTH_SECRET") else "no secret")
"""


def test_a_login_without_chainlit_auth_secret_gets_one_instead_of_a_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAT_", "CHAINLIT_", "CI"))}
    env.update({"PYTHONPATH": str(ROOT), "CHAT_USERS": "alice:wonderland", "DATABASE_URL": "off"})
    result = subprocess.run(
        [sys.executable, "-c", SECRET_PROBE], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "secret set"
