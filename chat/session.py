"""A chat session: settings, multi-turn history, and one turn at a time.

Every sink drives answers the same way::

    turn = session.start(user_text)      # raises InputError / ConfigError at once
    stats = await turn.run(handle_event) # handle_event gets every Event

If the sink is cancelled (Stop, Ctrl-C, client gone), ``run`` closes the stream
so the provider stops within one token, and ``turn.stats`` / ``turn.text`` still
hold the figures and the partial answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

from agents import observe
from agents.coalesce import leftover
from agents.errors import InputError
from agents.events import Done, Event, Failed, Replace, Stats, TextDelta
from agents.faults import FaultInjector
from agents.inputs import clean_input
from agents.providers import registry
from agents.providers.base import Audience, ChatMessage, Provider, TokenLogprob
from agents.runner import Runner
from agents.stats import Clock
from chat.keys import UserKeys
from chat.pipeline import apply, screen_input, stages_for
from chat.settings import Settings

Handler = Callable[[Event], Awaitable[None]]


class Turn:
    """One user message and the answer being streamed for it."""

    def __init__(
        self,
        session: ChatSession,
        user_text: str,
        provider: Provider,
        *,
        continue_from: str = "",
        faults: FaultInjector | None = None,
        extra_tokens: int = 0,
        continue_tokens: tuple[TokenLogprob, ...] | None = None,
    ) -> None:
        self.session = session
        self.user_text = user_text
        self.provider = provider
        #: The partial answer this turn carries on (``ChatSession.continue_last``), else "".
        self.continue_from = continue_from
        #: Tokens added to the limit: a continuation of a cut-off answer gets a fresh budget.
        self.extra_tokens = extra_tokens
        #: The log-probabilities of ``continue_from``, so the continued answer's confidence covers all of it.
        self.continue_tokens = continue_tokens
        #: The system prompt as the model gets it (screened by the input guardrails); ``None`` until screened.
        self.system_prompt: str | None = None
        self.runner = Runner.for_settings(provider, session.settings, clock=session.clock, faults=faults)
        #: Whether anyone is watching the answer; a live answer with no follower clears it (``chat.live``).
        self.audience = Audience()
        self._shown: list[str] = [continue_from] if continue_from else []
        self._final: Stats | None = None
        self._recorded = False
        #: The messages the answer was generated from (set when it starts): what a self-check asks again.
        self.prompt: list[ChatMessage] = []

    @property
    def text(self) -> str:
        """What the user has been shown of the answer so far."""
        return "".join(self._shown)

    @property
    def stats(self) -> Stats | None:
        """The answer's figures once it has ended (however it ended)."""
        return self._final or self.runner.stats

    def messages(self) -> list[ChatMessage]:
        """System prompt, history, and this turn's user message."""
        system = self.system_prompt if self.system_prompt is not None else self.session.settings.system_prompt
        head = [ChatMessage("system", system)] if system else []
        return [*head, *self.session.history, ChatMessage("user", self.user_text)]

    async def events(self) -> AsyncGenerator[Event, None]:
        """The answer's events.  Prefer ``run``, which closes the stream on cancellation."""
        settings = self.session.settings
        session = self.session
        # Earlier messages that came from outside (an API request's history) reach the model too, and so
        # does the system prompt (the panel's, the CLI's --system, a request's): all are screened like input.
        earlier = session.history[: session.unscreened]
        system = settings.system_prompt
        texts = [system] if system else []
        kept, screened = await screen_input([*texts, *(m.content for m in earlier)], self.user_text, settings,
                                            self.provider)  # fmt: skip
        if not screened.blocked:
            if system:
                self.system_prompt, kept = kept[0], kept[1:]
            session.history[: len(earlier)] = [ChatMessage(m.role, t) for m, t in zip(earlier, kept, strict=True)]
            session.unscreened = 0
        for event in screened.events():  # input verdicts; a blocked message ends the turn here
            self._observe(event)
            yield event
        if screened.blocked:
            self._recorded = True  # the model never saw it: keep it out of later turns' history too
            return
        self.user_text = screened.text  # redacted: the model and the history see only this
        stages = stages_for(settings, self.provider)
        params = dataclasses.replace(settings.params(), audience=self.audience)
        if self.extra_tokens:
            # The limit counts the whole answer; the cut-off part already used it up.
            limit = (params.max_tokens or self.extra_tokens) + self.extra_tokens
            params = dataclasses.replace(params, max_tokens=limit)
        self.prompt = self.messages()
        run = self.runner.run(
            self.prompt, params, continue_from=self.continue_from, continue_tokens=self.continue_tokens
        )
        events = apply(run, stages)
        try:
            async with aclosing(events):
                async for event in events:
                    event = screened.merge(event)  # the input verdicts join the answer's stats
                    self._observe(event)
                    yield event
        finally:
            for event in leftover(stages):  # text the buffering stage still held when stopped early
                self._observe(event)
            self._record()

    async def run(self, handle: Handler) -> Stats | None:
        """Feed every event to ``handle``; on any exit the provider stream is closed."""
        # metrics + one log line per answer, whatever the sink and however it ends (input-blocked too)
        async with aclosing(observe.watch(self.events(), lambda: self.stats)) as events:
            async for event in events:
                await handle(event)
        return self.stats

    def _observe(self, event: Event) -> None:
        match event:
            case TextDelta(text=text):
                self._shown.append(text)
            case Replace(text=text):
                self._shown = [text]
            case Done(text=text, stats=stats) | Failed(text=text, stats=stats):
                self._shown = [text]
                self._final = stats
            case _:
                pass

    def _record(self) -> None:
        """Add this exchange to the history: the answer the user saw, partial or not.

        ``text`` is built from the typed events, so it never holds a block line,
        a notice or stats: the model's context gets only the answer.
        """
        if self._recorded:
            return
        self._recorded = True
        self.session.history.append(ChatMessage("user", self.user_text))
        if answer := self.text:
            self.session.history.append(ChatMessage("assistant", answer))


class ChatSession:
    """Settings and history for one user; the CLI, Chainlit and SSE each hold one."""

    def __init__(self, settings: Settings | None = None, *, clock: Clock = time.perf_counter) -> None:
        self.settings = settings or Settings.from_env()
        self.history: list[ChatMessage] = []
        #: How many messages at the start of ``history`` have not passed the input guardrails (see ``adopt``).
        self.unscreened = 0
        self.clock = clock
        #: Keys the user entered for this session only (the chat UI's panel); never stored or logged.
        self.keys = UserKeys()
        self._provider: Provider | None = None
        self._provider_key: tuple[Any, ...] | None = None
        self._keys_version = 0  # the ``keys.version`` the provider was built with
        #: The latest turn started, so ``continue_last`` can carry on its answer.
        self.last_turn: Turn | None = None
        #: The last answer's self-check while it runs (``chat.selfcheck``); a new question cancels it.
        self.selfcheck: asyncio.Task[Any] | None = None

    def cancel_selfcheck(self) -> bool:
        """Stop the last answer's self-check if it is still running (a new question, Stop, the session ends)."""
        task, self.selfcheck = self.selfcheck, None
        return task is not None and task.cancel()

    def provider(self) -> Provider:
        """The provider for the current settings, built once per distinct configuration."""
        s = self.settings
        key = (s.provider, s.model, s.echo_rate)
        if self._provider is None or key != self._provider_key or self._keys_version != self.keys.version:
            self._provider = registry.create(s.provider, s.model, keys=self.keys.env(), **s.provider_options())
            self._provider_key, self._keys_version = key, self.keys.version
        return self._provider

    def update(self, **changes: Any) -> Settings:
        """Apply setting changes for the next message; on any error the old settings stay."""
        candidate = self.settings.replace(**changes)
        if candidate.provider != self.settings.provider:
            spec = registry.get(candidate.provider)
            if (err := spec.missing_key(self.keys.env())) is not None:
                raise err
        self.settings = candidate
        return candidate

    def start(self, user_text: str) -> Turn:
        """Check the message and the provider; raises ``InputError`` / ``ConfigError``."""
        text = clean_input(user_text, self.settings.max_input_chars)
        self.cancel_selfcheck()
        self.last_turn = Turn(self, text, self.provider())
        return self.last_turn

    def continue_last(self, *, cut_off_at: int | None = None) -> Turn:
        """A turn that carries on the last answer from where it stopped (the Continue action).

        The interrupted exchange leaves the history and comes back, completed,
        when the new turn ends.  An answer the token limit cut off gets a fresh
        limit for its continuation: ``cut_off_at`` (where the limit cut it, as
        stored with a resumed thread) is used when this session did not run
        that answer itself.  Raises ``InputError`` if there is nothing to continue.
        """
        if len(self.history) < 2 or self.history[-1].role != "assistant" or self.history[-2].role != "user":
            raise InputError("There is no answer to continue: send a message first.")
        self.cancel_selfcheck()
        answer = self.history.pop()
        question = self.history.pop()
        last = self.last_turn
        # The same answer keeps its simulated-failure state, so a spent fault does not fire again.
        carry = last is not None and last.text == answer.content and self.settings.fault != "off"
        faults = last.runner.faults if carry and last is not None else None
        stats = last.stats if last is not None and last.text == answer.content else None
        extra = (stats.cut_off_at or 0) if stats is not None and stats.cut_off else (cut_off_at or 0)
        # Continue extends the same answer's confidence: the runner's tokens, if they spell what was shown.
        tokens = last.runner.tokens if last is not None and last.runner.text == answer.content else None
        try:
            self.last_turn = Turn(
                self, question.content, self.provider(), continue_from=answer.content, faults=faults,
                extra_tokens=extra, continue_tokens=tokens,
            )  # fmt: skip
        except BaseException:
            self.history += [question, answer]
            raise
        return self.last_turn

    def adopt(self, history: list[ChatMessage]) -> None:
        """Take a conversation written elsewhere (an API request's ``messages``) as this session's history.

        None of it has passed the input guardrails, so the next turn screens
        every message before the model sees any (a redact rule redacts each; a
        block rule blocks the turn, whichever message it is in).
        """
        self.history = list(history)
        self.unscreened = len(self.history)

    def clear(self) -> None:
        """Forget the conversation (settings stay)."""
        self.history.clear()
        self.unscreened = 0
