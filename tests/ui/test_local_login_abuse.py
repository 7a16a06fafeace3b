"""The local user's session cookie signs nobody in once a password login is configured.

Without a password login every visitor is the local user, and ``LocalLogin``
hands each page a session cookie for it.  Those cookies are Chainlit JWTs
signed with ``CHAINLIT_AUTH_SECRET``, which is kept across restarts.  When the
owner later sets ``CHAT_USERS``/``CHAT_PASSWORD`` to lock the chat, a cookie a
visitor picked up before must not still open it (and its threads) without the
password: it did, for as long as the JWT lasted (Chainlit's default: 15 days).
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.webapp import running_app

SECRET = "test-secret-" + "y" * 40


def test_a_local_cookie_from_before_the_password_login_is_refused(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'chat.db'}"
    local = {"DATABASE_URL": database, "CHAINLIT_AUTH_SECRET": SECRET}
    with running_app(tmp_path, env=local) as app:
        with httpx.Client(base_url=app.url, timeout=30) as visitor:
            assert visitor.get("/").status_code == 200
            cookies = dict(visitor.cookies)
            assert cookies, "the local login gave no session cookie"
            assert visitor.get("/user").json()["identifier"] == "local"

    locked = {**local, "CHAT_USERS": "ann:pw-of-ann"}
    with running_app(tmp_path, env=locked) as app:
        with httpx.Client(base_url=app.url, timeout=30, cookies=cookies) as visitor:
            assert visitor.get("/user").status_code == 401
            page = {"pagination": {"first": 20}, "filter": {}}
            assert visitor.post("/project/threads", json=page).status_code == 401
        with httpx.Client(base_url=app.url, timeout=30) as ann:  # the real login still works
            assert ann.post("/login", data={"username": "ann", "password": "pw-of-ann"}).status_code == 200
            assert ann.get("/user").json()["identifier"] == "ann"
        with httpx.Client(base_url=app.url, timeout=30) as stranger:  # and a page hands out no cookie
            stranger.get("/")
            assert stranger.get("/user").status_code == 401
