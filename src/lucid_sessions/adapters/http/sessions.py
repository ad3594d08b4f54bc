"""Session lifecycle and recording control routes."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from lucid_sessions.adapters.http.auth import current_principal
from lucid_sessions.adapters.http.body import json_body, strict_body
from lucid_sessions.adapters.http.inputs import bounded_int
from lucid_sessions.adapters.http.mapping import (
    changes_from_request,
    new_session_from_request,
    session_response,
)
from lucid_sessions.adapters.http.openapi import (
    CREATE_ERRORS,
    LIST_ERRORS,
    READ_ERRORS,
    UPDATE_ERRORS,
    WRITE_ERRORS,
    Offset,
    SessionId,
    integer_query,
)
from lucid_sessions.adapters.http.schemas import (
    CreateSessionRequest,
    DeletedResponse,
    SessionListResponse,
    SessionResponse,
    Status,
    UpdateSessionRequest,
)
from lucid_sessions.adapters.http.timestamps import QueryTime, query_time
from lucid_sessions.app.usecases.change_session import (
    ControlRecording,
    RecordingAction,
    UpdateSession,
)
from lucid_sessions.app.usecases.common import MAX_OFFSET
from lucid_sessions.app.usecases.create_session import CreateSession
from lucid_sessions.app.usecases.delete_session import DeleteSession
from lucid_sessions.app.usecases.read_sessions import MAX_LIMIT, GetSession, ListSessions
from lucid_sessions.domain.ports.session_repository import SessionQuery
from lucid_sessions.domain.session import SessionStatus

__all__ = ["SessionController"]

SESSION_ID = "{session_id:str}"


class SessionController(Controller):
    path = "/api/v1/sessions"
    tags = ["sessions"]

    @post(
        "",
        status_code=201,
        raises=CREATE_ERRORS,
        summary="Create a session",
        opt=json_body(CreateSessionRequest),
    )
    async def create_session(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CreateSessionRequest],
        create_session: NamedDependency[CreateSession],
    ) -> Response[SessionResponse]:
        principal = current_principal(request)
        data = strict_body(request, data)
        view = await create_session(principal, new_session_from_request(data))
        location = f"{self.path}/{view.session.session_id}"
        return Response(session_response(view), status_code=201, headers={"Location": location})

    @get("", raises=LIST_ERRORS, summary="List sessions, newest first")
    async def list_sessions(
        self,
        request: Request[Any, Any, Any],
        list_sessions: NamedDependency[ListSessions],
        status: FromQuery[Status | None] = None,
        project: FromQuery[str | None] = None,
        environment: FromQuery[str | None] = None,
        owner: FromQuery[str | None] = None,
        tag: FromQuery[str | None] = None,
        created_after: QueryTime = None,
        created_before: QueryTime = None,
        limit: Annotated[str | None, integer_query(1, MAX_LIMIT, default=50)] = None,
        offset: Offset = None,
    ) -> SessionListResponse:
        principal = current_principal(request)
        query = SessionQuery(
            status=None if status is None else SessionStatus(status),
            project=project,
            environment=environment,
            owner=owner,
            tag=tag,
            created_after=query_time(created_after, "created_after"),
            created_before=query_time(created_before, "created_before"),
            limit=bounded_int(limit, "limit", 1, MAX_LIMIT, 50),
            offset=bounded_int(offset, "offset", 0, MAX_OFFSET, 0),
        )
        result = await list_sessions(principal, query)
        return SessionListResponse(
            sessions=[session_response(v) for v in result.items],
            total=result.total,
            limit=result.limit,
            offset=result.offset,
            has_next=result.has_next,
            has_previous=result.has_previous,
        )

    @get(f"/{SESSION_ID}", raises=READ_ERRORS, summary="Get a session")
    async def get_session(
        self,
        session_id: SessionId,
        request: Request[Any, Any, Any],
        get_session: NamedDependency[GetSession],
    ) -> SessionResponse:
        principal = current_principal(request)
        return session_response(await get_session(principal, session_id))

    @put(
        f"/{SESSION_ID}",
        raises=UPDATE_ERRORS,
        summary="Update a session",
        opt=json_body(UpdateSessionRequest),
    )
    async def update_session(
        self,
        session_id: SessionId,
        request: Request[Any, Any, Any],
        data: JSONBody[UpdateSessionRequest],
        update_session: NamedDependency[UpdateSession],
    ) -> SessionResponse:
        principal = current_principal(request)
        data = strict_body(request, data)
        view = await update_session(principal, session_id, changes_from_request(data))
        return session_response(view)

    @delete(
        f"/{SESSION_ID}",
        status_code=200,
        raises=WRITE_ERRORS,
        summary="Delete a session and its recording",
    )
    async def delete_session(
        self,
        session_id: SessionId,
        request: Request[Any, Any, Any],
        delete_session: NamedDependency[DeleteSession],
        force: FromQuery[bool] = False,
    ) -> DeletedResponse:
        principal = current_principal(request)
        deleted = await delete_session(principal, session_id, force=force)
        return DeletedResponse(session_id=deleted, deleted=True)

    @post(f"/{SESSION_ID}/start", status_code=200, raises=WRITE_ERRORS, summary="Start recording")
    async def start_recording(
        self,
        session_id: SessionId,
        request: Request[Any, Any, Any],
        control_recording: NamedDependency[ControlRecording],
    ) -> SessionResponse:
        principal = current_principal(request)
        view = await control_recording(principal, session_id, RecordingAction.START)
        return session_response(view)

    @post(f"/{SESSION_ID}/pause", status_code=200, raises=WRITE_ERRORS, summary="Pause recording")
    async def pause_recording(
        self,
        session_id: SessionId,
        request: Request[Any, Any, Any],
        control_recording: NamedDependency[ControlRecording],
    ) -> SessionResponse:
        principal = current_principal(request)
        view = await control_recording(principal, session_id, RecordingAction.PAUSE)
        return session_response(view)

    @post(f"/{SESSION_ID}/resume", status_code=200, raises=WRITE_ERRORS, summary="Resume recording")
    async def resume_recording(
        self,
        session_id: SessionId,
        request: Request[Any, Any, Any],
        control_recording: NamedDependency[ControlRecording],
    ) -> SessionResponse:
        principal = current_principal(request)
        view = await control_recording(principal, session_id, RecordingAction.RESUME)
        return session_response(view)

    @post(f"/{SESSION_ID}/stop", status_code=200, raises=WRITE_ERRORS, summary="Stop recording")
    async def stop_recording(
        self,
        session_id: SessionId,
        request: Request[Any, Any, Any],
        control_recording: NamedDependency[ControlRecording],
    ) -> SessionResponse:
        principal = current_principal(request)
        view = await control_recording(principal, session_id, RecordingAction.STOP)
        return session_response(view)
