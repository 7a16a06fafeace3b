"""Resumable SSE over the real app: ids on every event, reconnect with Last-Event-ID, grace, cancel, 404."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.webapp import TOKEN, App, running_app

GRACE_S = 1.5
RETENTION_S = 4.0
PROMPT = " ".join(f"word{i}" for i in range(60))


@dataclass
class Frame:
    """One SSE event as received."""

    id: int
    name: str
    data: Any


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    env = {"STREAM_GRACE_SECONDS": str(GRACE_S), "STREAM_RETENTION_SECONDS": str(RETENTION_S)}
    with running_app(tmp_path_factory.mktemp("resumable"), env=env) as running:
        yield running


def frames(response: httpx.Response) -> Iterator[Frame]:
    """Events as they arrive; every one must carry an ``id:``."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in fields:
                assert "id" in fields, f"an event without id: {fields}"
                yield Frame(int(fields["id"]), fields.get("event", "message"), json.loads(fields["data"]))
            fields = {}
            continue
        key, _, value = line.partition(":")
        if key:
            fields[key] = value.removeprefix(" ")


def text(events: list[Frame]) -> str:
    return "".join(f.data["text"] for f in events if f.name == "delta")


def start(client: httpx.Client, rate: float, prompt: str = PROMPT) -> Any:
    body = {"messages": [{"role": "user", "content": prompt}], "provider": "echo", "rate": rate, "buffer": "token"}
    return client.stream("POST", "/api/chat/stream", json=body)


def read_some(client: httpx.Client, count: int, rate: float = 40) -> tuple[str, list[Frame]]:
    """Start an answer, read ``count`` events, then drop the connection."""
    got: list[Frame] = []
    with start(client, rate) as response:
        assert response.status_code == 200
        stream_id = response.headers["x-stream-id"]
        for frame in frames(response):
            got.append(frame)
            if len(got) == count:
                break  # leaving the block closes the connection mid-answer
    return stream_id, got


def resume(client: httpx.Client, stream_id: str, after: int) -> list[Frame]:
    headers = {"Last-Event-ID": str(after)}
    with client.stream("GET", f"/api/streams/{stream_id}", headers=headers) as response:
        assert response.status_code in (200, 204), response.read()  # 204: nothing after ``after``, ever
        assert response.headers["x-stream-id"] == stream_id
        return list(frames(response)) if response.status_code == 200 else []


def test_cut_then_reconnect_with_last_event_id_equals_an_uninterrupted_run(app: App) -> None:
    with app.client(timeout=30) as client:
        with start(client, 0) as response:
            whole = list(frames(response))
        stream_id, first = read_some(client, 7)
        time.sleep(0.3)  # the connection is gone; the answer goes on meanwhile
        rest = resume(client, stream_id, first[-1].id)
    joined = first + rest
    assert [f.id for f in joined] == list(range(1, len(joined) + 1))  # nothing lost, nothing repeated
    assert [f.id for f in whole] == list(range(1, len(whole) + 1))
    assert text(joined) == text(whole) == PROMPT
    assert [f.name for f in joined] == [f.name for f in whole]
    assert joined[-1].name == "done" and joined[-1].data["outcome"] == "complete"


def test_a_finished_stream_replays_and_then_expires_with_a_json_404(app: App) -> None:
    with app.client(timeout=30) as client:
        with start(client, 0, "short answer here") as response:
            stream_id = response.headers["x-stream-id"]
            whole = list(frames(response))
        assert [(f.id, f.name) for f in resume(client, stream_id, 2)] == [(f.id, f.name) for f in whole[2:]]
        assert resume(client, stream_id, whole[-1].id) == []  # after the last event: nothing more, ends at once
        deadline = time.monotonic() + RETENTION_S + 5
        while (gone := client.get(f"/api/streams/{stream_id}")).status_code == 200:
            assert time.monotonic() < deadline, "the finished stream never expired"
            time.sleep(0.25)  # polling the server's retention timer
        assert gone.status_code == 404 and "unknown or has expired" in gone.json()["error"]


def test_unknown_ids_get_404_json_and_a_bad_last_event_id_400(app: App) -> None:
    with app.client(timeout=30) as client:
        for method in ("GET", "DELETE"):
            response = client.request(method, "/api/streams/no-such-stream-id-000")
            assert response.status_code == 404
            assert response.headers["content-type"].startswith("application/json")
            assert "unknown or has expired" in response.json()["error"]
        with start(client, 0, "x y z") as response:
            stream_id = response.headers["x-stream-id"]
            response.read()
        for raw in ("seven", "0_1", "-1", "1.5", "+1"):
            bad = client.get(f"/api/streams/{stream_id}", headers={"Last-Event-ID": raw})
            assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["error"], raw
        # Every event already had: 204, which tells an EventSource to stop reconnecting.
        done = client.get(f"/api/streams/{stream_id}", headers={"Last-Event-ID": "999"})
        assert done.status_code == 204 and done.headers["x-stream-id"] == stream_id
    with httpx.Client(base_url=app.url, timeout=30) as anonymous:  # the bearer token guards these routes too
        assert anonymous.get(f"/api/streams/{stream_id}").status_code == 401
        assert anonymous.delete(f"/api/streams/{stream_id}").status_code == 401


def test_delete_cancels_within_one_token_and_followers_see_the_end(app: App) -> None:
    with app.client(timeout=30) as client:
        stream_id, first = read_some(client, 3, rate=20)
        cancelled = client.delete(f"/api/streams/{stream_id}")
        assert cancelled.status_code == 200 and cancelled.json()["cancelled"] is True
        stopped_at = cancelled.json()["last_event_id"]
        replay = resume(client, stream_id, 0)
        assert replay[-1].name == "done" and replay[-1].data["outcome"] == "cancelled"
        assert replay[-1].id == stopped_at and stopped_at <= len(first) + 3  # 20 tok/s: it did not run on
        assert client.delete(f"/api/streams/{stream_id}").json()["cancelled"] is False  # already ended


def test_a_dropped_client_keeps_the_answer_for_the_grace_period_then_it_is_cancelled(app: App) -> None:
    with app.client(timeout=30) as client:
        # 10 tok/s and 60 words: 12 s to finish, far longer than the grace period.
        stream_id, first = read_some(client, 2, rate=10)
        time.sleep(GRACE_S / 3)
        late = resume_some(client, stream_id, first[-1].id, 2)
        assert [f.id for f in late] == [first[-1].id + 1, first[-1].id + 2]  # still alive, nothing skipped
        time.sleep(GRACE_S + 1.5)  # nobody attached: the grace period runs out
        replay = resume(client, stream_id, 0)
    assert replay[-1].name == "done" and replay[-1].data["outcome"] == "cancelled"
    assert len(text(replay)) < len(PROMPT) / 2


def resume_some(client: httpx.Client, stream_id: str, after: int, count: int) -> list[Frame]:
    got: list[Frame] = []
    with client.stream("GET", f"/api/streams/{stream_id}", headers={"Last-Event-ID": str(after)}) as response:
        for frame in frames(response):
            got.append(frame)
            if len(got) == count:
                break
    return got


def test_an_eventsource_reconnecting_to_the_same_url_gets_the_same_answer(app: App) -> None:
    """A browser EventSource reconnects to its URL with Last-Event-ID; a named stream carries on there."""
    stream_id = "page-3f0c9a7e1b2d4c55"
    params = {"prompt": PROMPT, "provider": "echo", "rate": "40", "buffer": "token", "stream": stream_id}
    params["token"] = TOKEN
    with httpx.Client(base_url=app.url, timeout=30) as client:
        first: list[Frame] = []
        with client.stream("GET", "/api/stream", params=params) as response:
            assert response.headers["x-stream-id"] == stream_id
            for frame in frames(response):
                first.append(frame)
                if len(first) == 5:
                    break
        with client.stream(
            "GET", "/api/stream", params=params, headers={"Last-Event-ID": str(first[-1].id)}
        ) as response:
            rest = list(frames(response))
        assert text(first + rest) == PROMPT
        assert [f.id for f in first + rest] == list(range(1, len(first) + len(rest) + 1))
        again = client.get("/api/stream", params=params)  # the same id without Last-Event-ID: refused
        assert again.status_code == 409
        bad = client.get("/api/stream", params={**params, "stream": "short"})
        assert bad.status_code == 400 and "'stream'" in bad.json()["error"]
