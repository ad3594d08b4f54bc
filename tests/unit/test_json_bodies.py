"""JSON bodies are decoded once, strictly, and answer what is wrong with them as before.

The first test pins what `JsonBodyRequest` relies on in Litestar (written for Litestar 2.25):
it fails if Litestar stops filling a handler's `data` from the request class's `json()`.
"""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar import Litestar, Request, post
from litestar.exceptions import ClientException
from litestar.middleware import DefineMiddleware
from litestar.params import JSONBody
from litestar.testing import TestClient

from lucid_sessions.adapters.http.body import (
    JSON_BODY,
    MAX_DEPTH,
    JsonBodyMiddleware,
    JsonBodyRequest,
    decode_body,
    decode_json,
    json_body,
    strict_body,
)
from lucid_sessions.adapters.http.playback import PlaybackLinkRequest
from lucid_sessions.adapters.http.schemas import CreateSessionRequest, UpdateSessionRequest
from lucid_sessions.bootstrap.app import create_litestar
from tests.graph import fake_container


class Point(msgspec.Struct, forbid_unknown_fields=True):
    x: int
    label: str = ""


def _point_app(seen: list[Any]) -> Litestar:
    @post("/points", opt=json_body(Point), status_code=200)
    async def add_point(request: Request[Any, Any, Any], data: JSONBody[Point]) -> dict[str, Any]:
        seen.append((data, await request.json()))
        point = strict_body(request, data)
        return {"x": point.x}

    return Litestar(
        route_handlers=[add_point],
        middleware=[DefineMiddleware(JsonBodyMiddleware, max_bytes=1024, timeout_seconds=5)],
        request_class=JsonBodyRequest,
    )


def test_litestar_2_25_fills_data_from_the_request_class_json_unchanged() -> None:
    """Litestar 2.25 fills `data` from `Request.json()` of the app's request class, and passes
    a model instance through its loose conversion as it is. `JsonBodyRequest` relies on both
    so that the body is decoded once: if this fails, Litestar decodes bodies another way."""
    seen: list[Any] = []
    with TestClient(_point_app(seen)) as client:
        answer = client.post("/points", json={"x": 3})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"x": 3}
    ((data, from_json),) = seen
    assert type(data) is Point
    assert data is from_json, "Litestar decoded or converted the body again"


def test_only_the_loose_check_passes_a_400_naming_the_field() -> None:
    seen: list[Any] = []
    with TestClient(_point_app(seen)) as client:
        loose = client.post("/points?a=1", json={"x": "3"})
        wrong = client.post("/points?a=1", json={"x": "three"})
    assert loose.status_code == 400
    assert loose.json()["detail"] == "Validation failed for POST /points"
    assert loose.json()["extra"] == [
        {"message": "Expected `int`, got `str`", "key": "x", "source": "body"}
    ]
    assert wrong.status_code == 400  # Litestar's own answer: the query string is in it
    assert wrong.json()["detail"] == "Validation failed for POST /points?a=1"


def _handlers(tmp_path: Path) -> list[Any]:
    app = create_litestar(fake_container(tmp_path))
    return [handler for route in app.routes for handler in getattr(route, "route_handlers", ())]


def test_every_route_with_a_body_declares_its_json_model(tmp_path: Path) -> None:
    """`data: JSONBody[Model]` (what the document says) and `opt=json_body(Model)` (what the
    middleware reads) name the same model, on every route and only on those with `data`."""
    declared = {}
    for handler in _handlers(tmp_path):
        takes_data = "data" in inspect.signature(handler.fn).parameters
        assert takes_data == (JSON_BODY in handler.opt), handler.handler_name
        if takes_data:
            hint = typing.get_type_hints(handler.fn, include_extras=True)["data"]
            assert typing.get_args(hint)[0] is handler.opt[JSON_BODY], handler.handler_name
            declared[handler.handler_name] = handler.opt[JSON_BODY]
    assert declared == {
        "create_session": CreateSessionRequest,
        "update_session": UpdateSessionRequest,
        "make_playback_link": PlaybackLinkRequest,
    }


def _depth(kind: msgspec.inspect.Type) -> int:
    """How deeply a value of `kind` can nest as JSON (large when it is not bounded)."""
    if isinstance(kind, msgspec.inspect.UnionType):
        return max(_depth(member) for member in kind.types)
    if isinstance(kind, msgspec.inspect.StructType):
        return 1 + max((_depth(field.type) for field in kind.fields), default=0)
    if isinstance(kind, msgspec.inspect.ListType | msgspec.inspect.TupleType):
        return 1 + _depth(kind.item_type)
    if isinstance(kind, msgspec.inspect.DictType | msgspec.inspect.AnyType):
        return MAX_DEPTH + 1
    if isinstance(kind, msgspec.inspect.Metadata):
        return _depth(kind.type)
    return 0


@pytest.mark.parametrize("model", [CreateSessionRequest, UpdateSessionRequest])
def test_a_body_of_a_request_model_nests_at_most_max_depth(model: type[Any]) -> None:
    """`decode_body` measures only bodies that fail to decode into the model."""
    assert 0 < _depth(msgspec.inspect.type_info(model)) <= MAX_DEPTH


def _as_before(body: bytes, model: type[Any]) -> tuple[str, Any]:
    """What the body was before it was decoded once: plain JSON, then strictly the model."""
    try:
        plain = decode_json(body)
    except ClientException as exc:
        return ("400", exc.detail)
    try:
        return ("model", msgspec.convert(plain, type=model, strict=True))
    except msgspec.ValidationError as exc:
        return ("loose", (plain, str(exc)))


def _now(body: bytes, model: type[Any]) -> tuple[str, Any]:
    try:
        decoded = decode_body(body, model)
    except ClientException as exc:
        return ("400", exc.detail)
    if decoded.strict_error is None:
        return ("model", decoded.value)
    return ("loose", (decoded.value, str(decoded.strict_error)))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


def mostly(valid: list[Any], wrong: list[Any]) -> st.SearchStrategy[Any]:
    """One of `valid` nine times in ten, else one of `wrong`."""
    return st.sampled_from(valid * 9 * len(wrong) + wrong)


TEXT = mostly(["p", None], [5, "x" * 300, ["p"]])
FLAG = mostly([True, False], [None, "true", 1])
COUNT = mostly([1, 25, 30], ["25", 25.0, 0, 70000, True])
SIZE = mostly([1, 1.5, 10.0], ["1", 0, 1e9, None])
RDP = st.fixed_dictionaries(
    {"host": mostly(["h", "10.0.0.1"], ["", 5])},
    optional={"port": mostly([3389, 3390], ["22", 22.0, 70000, True]), "use_tls": FLAG},
)
METADATA = st.fixed_dictionaries(
    {},
    optional={
        "tags": st.lists(mostly(["a", "b"], ["", 5]), max_size=12),
        "priority": mostly(["low", "high"], ["urgent", 1]),
        "project": TEXT,
    },
)
STORAGE = st.fixed_dictionaries(
    {}, optional={"max_size_gb": SIZE, "retention_days": COUNT, "legal_hold": FLAG}
)
RECORDING = st.fixed_dictionaries(
    {},
    optional={
        "frame_rate": COUNT,
        "quality": mostly(["high", "low"], ["best", None]),
        "resolution": mostly(["1920x1080"], ["100", 5]),
    },
)
NAME = mostly(["desk"], ["", 5, None, "x" * 300])
PARTS = {
    "metadata": METADATA,
    "storage_config": STORAGE,
    "recording_config": RECORDING,
    "description": TEXT,
}
CREATE = st.fixed_dictionaries({"name": NAME, "rdp_config": RDP}, optional=PARTS)
UPDATE = st.fixed_dictionaries({}, optional={"name": NAME, **PARTS})
BODIES = (CREATE | UPDATE | JSON).map(msgspec.json.encode) | st.binary(max_size=40)


@settings(max_examples=400, deadline=None)
@given(body=BODIES)
def test_decoded_once_the_answer_is_the_one_before(body: bytes) -> None:
    for model in (CreateSessionRequest, UpdateSessionRequest):
        assert _now(body, model) == _as_before(body, model)


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "a", "name": "b"}',
        b'{"name": 5, "name": "b"}',
        b'{"name": "a", "name": 5}',
        b'{"name": "\\ud800"}',
        b'{"name": "a", "metadata": ' + b"[" * 40 + b"]" * 40 + b"}",
        b'{"name": "a", "other": ' + b"[" * 40 + b"]" * 40 + b"}",
        b"[" * 5000 + b"]" * 5000,
        b'{"name": "\xff"}',
        b'{"name": "a"} trailing',
    ],
)
def test_bodies_decoded_once_are_answered_as_before(body: bytes) -> None:
    assert _now(body, UpdateSessionRequest) == _as_before(body, UpdateSessionRequest)
