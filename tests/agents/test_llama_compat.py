"""The private llama-cpp-python attributes the embedded model uses exist in the installed version.

If an upgrade moves them, this fails loudly here, naming what is gone,
rather than the local provider failing somewhere at run time.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agents.providers import llama_compat

ROOT = Path(__file__).resolve().parents[2]


def test_the_installed_and_pinned_versions_are_the_ones_the_module_was_written_for() -> None:
    import llama_cpp

    pin = re.search(r"^llama-cpp-python(?:\[[^\]]*\])?==([\w.]+)", (ROOT / "requirements.txt").read_text(), re.M)
    assert pin is not None and pin.group(1) == llama_compat.PINNED, "requirements.txt moved: re-check llama_compat"
    assert llama_cpp.__version__ == llama_compat.PINNED


def test_missing_names_what_an_object_lacks() -> None:
    class NotLlama:
        pass

    assert set(llama_compat.missing(NotLlama())) == {  # type: ignore[arg-type]
        "Llama._model.token_get_text", "Llama._model.vocab", "Llama._model.model",
    }  # fmt: skip


@pytest.mark.model
def test_a_real_model_has_every_private_attribute_used() -> None:
    from llama_cpp import Llama

    from agents.providers.llama_batch import Engine
    from agents.providers.local import locate_model

    llm = Llama(model_path=str(locate_model()), n_ctx=256, n_threads=1, verbose=False)
    try:
        assert llama_compat.missing(llm) == []
        assert llama_compat.token_text(llm, llm.token_eos())
        assert llama_compat.vocab(llm) is not None
        engine = Engine(llm, sequences=2, n_ctx=256, n_batch=64, n_threads=1)  # a context on the same weights
        try:
            tokens = llm.tokenize(b"Hello there, how are you today?")[:3]
            engine.decode([(t, i, 1, i == 2) for i, t in enumerate(tokens)])
            assert engine.logits(2).shape == (llm.n_vocab(),)
            engine.forget(1, 1)
        finally:
            engine.close()
    finally:
        llm.close()
