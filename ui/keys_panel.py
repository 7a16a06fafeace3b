"""The settings panel's key fields: a user's own OpenAI / Gemini keys, for this chat only.

Chainlit's ``user_env`` would do this, but it makes every listed variable
mandatory: the socket refuses to connect until all are given
(``chainlit/socket.py: load_user_env``), which would stop a new user on the
embedded model from chatting at all.  So the keys are three text fields in
the settings panel instead:

- The value is never sent back: each field starts empty, its label only says
  whether a key is set; blank keeps the key, ``-`` removes it.  Chainlit 2.12's
  text input has no password type, so the characters are masked with
  ``-webkit-text-security`` (extra keys of a widget's dict reach its ``<input>``)
  and the browser is asked not to remember them.
- Chainlit copies every submitted panel value into the session's
  ``chat_settings``, which it stores with the thread; ``scrub`` takes the key
  fields out of it before anything can store it, and the panel is sent again
  so the browser's form forgets what was typed.
- The keys themselves live in ``ChatSession.keys`` (``chat.keys``).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from chainlit.input_widget import InputWidget, TextInput
from pydantic.dataclasses import dataclass

from agents.errors import MissingKey
from chat.keys import BASE_URL_VARS, USER_VARS, UserKeys, allowed_hosts

#: Typed into a key field, removes the key set for this chat.
FORGET = "-"
#: Widget id -> the variable it sets.
FIELD_VARS = {var.lower(): var for var in USER_VARS}


@dataclass
class SecretInput(TextInput):
    """A text input whose characters are masked and never pre-filled."""

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(initial=None, autoComplete="off", spellCheck=False, style={"WebkitTextSecurity": "disc"})
        out["data-secret"] = "true"
        return out


def widgets(keys: UserKeys) -> list[InputWidget]:
    """One masked field per variable; its label says whether a key is set, never which.

    The base URL field shows only where the operator allows some host
    (``ALLOW_USER_BASE_URL``): elsewhere every value would be refused.
    """
    out: list[InputWidget] = []
    for field_id, var in FIELD_VARS.items():
        if var in BASE_URL_VARS and not allowed_hosts() and var not in keys.names():
            continue
        state = "set for this chat" if var in keys.names() else "not set"
        out.append(SecretInput(
            id=field_id, label=f"Your {USER_VARS[var]} ({var}): {state}",
            placeholder="https://host/v1" if var.endswith("_URL") else "paste a key",
            description=f"For this chat only: in memory, never stored or shown. Blank keeps it, \"{FORGET}\" drops it.",
        ))  # fmt: skip
    return out


def take(values: Mapping[str, Any]) -> dict[str, str | None]:
    """The key fields the user filled in: variable -> value, or ``None`` to remove it (blank fields are left out)."""
    out: dict[str, str | None] = {}
    for field_id, var in FIELD_VARS.items():
        raw = values.get(field_id)
        text = raw.strip() if isinstance(raw, str) else ""
        if text:
            out[var] = None if text == FORGET else text
    return out


def scrub(values: MutableMapping[str, Any]) -> None:
    """Take the key fields out of ``values`` (Chainlit's ``chat_settings``, stored with the thread)."""
    for field_id in FIELD_VARS:
        values.pop(field_id, None)


def missing_key_line(err: MissingKey) -> str:
    """A missing key, said for the chat UI: the panel's field first, then the server's variables."""
    fields = [f'"{USER_VARS[var]}"' for var in err.env_vars if var in USER_VARS]
    if not fields:
        return str(err)
    return (f"The {err.provider} provider needs an API key: enter yours as {' or '.join(fields)} in the settings "
            "panel (for this chat only: keys are not kept after a reload), "
            f"or set {' or '.join(err.env_vars)} on the server.")  # fmt: skip
