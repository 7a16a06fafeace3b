"""Every use of llama-cpp-python's private attributes, in one place, checked against the pinned version.

The embedded model needs a few things the public ``Llama`` API does not offer:
the raw model handle (``llama_batch.Engine`` builds its own multi-sequence
context on the loaded weights) and the model's vocabulary (token text,
end-of-generation).  They are read here and nowhere else, so an upgrade that
moves them breaks this module and its test (``tests/agents/test_llama_compat.py``),
not the provider at random.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_cpp import Llama

#: The llama-cpp-python release these accessors were written against (requirements.txt pins it).
PINNED = "0.3.36"


def token_text(llm: Llama, token: int) -> str:
    """The text of one token (for the chat template's BOS/EOS strings)."""
    return str(llm._model.token_get_text(token))


def vocab(llm: Llama) -> Any:
    """The model's vocabulary handle (``llama_vocab_is_eog`` takes it)."""
    return llm._model.vocab


def model_handle(llm: Llama) -> Any:
    """The loaded model's ``llama_model`` pointer, for a context of our own on the same weights."""
    return llm._model.model


def missing(llm: Llama) -> list[str]:
    """The private attributes this module needs that ``llm`` lacks (empty when the version fits)."""
    wanted = {
        "Llama._model.token_get_text": hasattr(getattr(llm, "_model", None), "token_get_text"),
        "Llama._model.vocab": hasattr(getattr(llm, "_model", None), "vocab"),
        "Llama._model.model": hasattr(getattr(llm, "_model", None), "model"),
    }
    return [name for name, present in wanted.items() if not present]
