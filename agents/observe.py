"""Observability: Prometheus metrics and one structured JSON log line per answer.

Every turn, whatever its sink (Chainlit, CLI, SSE), passes through ``watch``,
which counts the stream as active while it runs and, when it ends however it
ends, records its final ``Stats``:

    chat_answers_total{provider,outcome}      answers, by how they ended
    chat_ttft_seconds{provider}                time to first token (histogram)
    chat_tokens_per_second{provider}           generation speed (histogram)
    chat_answer_seconds{provider}              answer duration (histogram)
    chat_tokens_total{provider}                tokens streamed
    chat_retries_total / chat_resumes_total    resume-on-error activity
    chat_guardrail_verdicts_total{rule,action} guardrail verdicts
    chat_answer_confidence{provider}           the hallucination check's confidence (histogram, 0 to 1)
    chat_selfcheck_agreement{provider}         the optional self-check's agreement (histogram, 0 to 1)
    chat_selfchecks_total{provider,result}     self-checks run: passed, flagged or failed
    chat_selfcheck_tokens_total{provider}      tokens the self-check's extra samples cost
    chat_errors_total{kind}                    failed answers, by ``ChatError.kind``
    chat_active_streams                        answers streaming right now
    chat_http_rejections_total{status}         API requests refused with a 4xx

Labels carry only bounded values (provider names, outcomes, error kinds, rule
names); never a model name typed by a user, never message text.

The log line (logger ``agents.answers``, level INFO) holds the stats and the
error kind only.  ``ANSWER_LOG_CONTENT=1`` adds the error message; even then any
configured secret (API keys, the bearer token) is masked.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)

from agents.errors import ChatError
from agents.events import Event, Failed, SelfChecked, Stats

log = logging.getLogger("agents.answers")

#: The process's own registry, so tests and embedders never collide with the global default.
REGISTRY = CollectorRegistry(auto_describe=True)
process_collector.ProcessCollector(registry=REGISTRY)
platform_collector.PlatformCollector(registry=REGISTRY)
gc_collector.GCCollector(registry=REGISTRY)

_TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
_RATE_BUCKETS = (1, 5, 10, 20, 50, 100, 200, 500, 1_000, 5_000)
_DURATION_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)

ANSWERS = Counter("chat_answers", "Answers streamed, by how they ended.", ["provider", "outcome"], registry=REGISTRY)
TTFT = Histogram("chat_ttft_seconds", "Time to first token.", ["provider"], buckets=_TTFT_BUCKETS, registry=REGISTRY)
TOKENS_PER_S = Histogram(
    "chat_tokens_per_second",
    "Tokens per second after the first token.",
    ["provider"],
    buckets=_RATE_BUCKETS,
    registry=REGISTRY,
)
DURATION = Histogram(
    "chat_answer_seconds", "Answer duration.", ["provider"], buckets=_DURATION_BUCKETS, registry=REGISTRY
)
CONFIDENCE = Histogram(
    "chat_answer_confidence",
    "How sure the model was of each answer (the hallucination check; answers that cannot be checked are left out).",
    ["provider"],
    buckets=_CONFIDENCE_BUCKETS,
    registry=REGISTRY,
)
SELFCHECK_AGREEMENT = Histogram(
    "chat_selfcheck_agreement",
    "How well the self-check's samples agreed with each answer (failed self-checks are left out).",
    ["provider"],
    buckets=_CONFIDENCE_BUCKETS,
    registry=REGISTRY,
)
SELFCHECKS = Counter(
    "chat_selfchecks", "Self-checks run, by result (passed, flagged, failed).", ["provider", "result"],
    registry=REGISTRY,
)  # fmt: skip
SELFCHECK_TOKENS = Counter(
    "chat_selfcheck_tokens", "Tokens the self-check's extra samples cost.", ["provider"], registry=REGISTRY
)
TOKENS = Counter("chat_tokens", "Tokens streamed.", ["provider"], registry=REGISTRY)
RETRIES = Counter("chat_retries", "Retries after a retryable provider error.", ["provider"], registry=REGISTRY)
RESUMES = Counter("chat_resumes", "Streams resumed from their partial text.", ["provider"], registry=REGISTRY)
VERDICTS = Counter("chat_guardrail_verdicts", "Guardrail verdicts.", ["rule", "action"], registry=REGISTRY)
ERRORS = Counter("chat_errors", "Failed answers, by error kind.", ["kind"], registry=REGISTRY)
ACTIVE = Gauge("chat_active_streams", "Answers streaming right now.", registry=REGISTRY)
REJECTIONS = Counter(
    "chat_http_rejections", "API requests refused with a 4xx, by status.", ["status"], registry=REGISTRY
)

#: Verdict fields that may go into a log line: names and figures, never matched text.
_VERDICT_LOG_KEYS = ("rule", "action", "where", "guard", "ms", "check_ms")
_SECRET_VARS = ("OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "API_BEARER_TOKEN", "CHAT_PASSWORD")


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def rejected(status: int) -> None:
    """Count an API request refused with ``status``."""
    REJECTIONS.labels(status=str(status)).inc()


def _label(value: Any, default: str = "unknown") -> str:
    text = str(value) if value not in (None, "") else default
    return text[:64]


def record(stats: Stats, error: ChatError | None = None) -> None:
    """Count one finished answer and write its log line."""
    provider = _label(stats.provider)
    ANSWERS.labels(provider=provider, outcome=stats.outcome).inc()
    if stats.ttft_ms is not None:
        TTFT.labels(provider=provider).observe(stats.ttft_ms / 1000)
    if stats.tokens_per_s is not None:
        TOKENS_PER_S.labels(provider=provider).observe(stats.tokens_per_s)
    DURATION.labels(provider=provider).observe(stats.total_ms / 1000)
    if stats.confidence is not None:
        CONFIDENCE.labels(provider=provider).observe(stats.confidence)
    TOKENS.labels(provider=provider).inc(stats.tokens)
    if stats.retries:
        RETRIES.labels(provider=provider).inc(stats.retries)
    if stats.resumes:
        RESUMES.labels(provider=provider).inc(len(stats.resumes))
    for verdict in stats.verdicts:
        VERDICTS.labels(rule=_label(verdict.get("rule")), action=_label(verdict.get("action"))).inc()
    if error is not None:
        ERRORS.labels(kind=_label(error.kind)).inc()
    if log.isEnabledFor(logging.INFO):
        log.info(log_line(stats, error))


def self_checked(provider: str, result: SelfChecked) -> None:
    """Count one self-check: its agreement, its result and the tokens it cost."""
    label = _label(provider)
    if result.agreement is None:
        SELFCHECKS.labels(provider=label, result="failed").inc()
    else:
        SELFCHECK_AGREEMENT.labels(provider=label).observe(result.agreement)
        SELFCHECKS.labels(provider=label, result="flagged" if result.flagged else "passed").inc()
    if result.tokens:
        SELFCHECK_TOKENS.labels(provider=label).inc(result.tokens)


def log_line(stats: Stats, error: ChatError | None = None, *, content: bool | None = None) -> str:
    """The JSON log line for one answer: stats and error kind, no message content by default."""
    if content is None:
        content = os.environ.get("ANSWER_LOG_CONTENT", "").strip().lower() in {"1", "true", "yes"}
    data = stats.to_dict()
    data["verdicts"] = [_verdict_summary(v) for v in stats.verdicts]
    record: dict[str, Any] = {"ts": round(time.time(), 3), "event": "answer", **data}
    if error is not None:
        record["error"] = error.kind
        if content:
            record["error_message"] = str(error)
    return _mask_secrets(json.dumps(record, ensure_ascii=False, default=str))


def _verdict_summary(verdict: Mapping[str, Any]) -> dict[str, Any]:
    return {k: verdict[k] for k in _VERDICT_LOG_KEYS if k in verdict}


def _mask_secrets(line: str) -> str:
    for var in _SECRET_VARS:
        secret = os.environ.get(var, "")
        if len(secret) >= 4:
            line = line.replace(secret, "[secret]")
    return line


async def watch(
    events: AsyncGenerator[Event, None], final_stats: Callable[[], Stats | None]
) -> AsyncGenerator[Event, None]:
    """Pass ``events`` through, counting the stream as active; record it when it ends.

    ``final_stats`` is asked once the upstream is closed, so a cancelled answer
    is recorded with the stats its runner set on closing.
    """
    error: ChatError | None = None
    ACTIVE.inc()
    try:
        async with aclosing(events):
            async for event in events:
                if isinstance(event, Failed):
                    error = event.error
                yield event
    finally:
        ACTIVE.dec()
        if (stats := final_stats()) is not None:
            try:
                record(stats, error)
            except Exception:  # figures must never break an answer that was delivered
                logging.getLogger(__name__).exception("recording an answer's metrics failed")


def configure_logging(stream: Any = None) -> None:
    """Write the answer log lines, bare JSON, to ``stream`` (stderr by default); idempotent."""
    if any(getattr(h, "_answer_log", False) for h in log.handlers):
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._answer_log = True  # type: ignore[attr-defined]
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
