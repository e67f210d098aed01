"""A small notes API whose callers present keyplane keys.

Run it next to a keyplane server (``keyplane serve``)::

    export KEYPLANE_URL=http://127.0.0.1:8080        # or put both in .env
    export KEYPLANE_ADMIN_KEY=kp_admin_...           # printed once by `keyplane init`
    uvicorn app:app --port 8000                      # from this folder

Every route but ``/healthz`` needs a key (``Authorization: Bearer kp_proj_...``). Reading notes
needs the scope ``notes.read`` (held by keys with permissions ``all`` or ``read_only``),
writing needs ``notes.write`` (``all`` only). Each project sees its own notes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field

from keyplane.sdk import AsyncVerifier, VerifiedKey
from keyplane.sdk.fastapi import require_key

AnyKey = Annotated[VerifiedKey, Depends(require_key())]
Reader = Annotated[VerifiedKey, Depends(require_key(scopes=["notes.read"]))]
Writer = Annotated[VerifiedKey, Depends(require_key(scopes=["notes.write"]))]


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class Note(BaseModel):
    id: int
    text: str
    author_key_id: str


class Caller(BaseModel):
    key_id: str
    name: str | None
    project_id: str | None


def create_app(verifier: AsyncVerifier | None = None) -> FastAPI:
    """The notes API; ``verifier`` defaults to one configured from the environment."""
    notes: dict[str, list[Note]] = {}  # by project id; a real service keeps a database

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # require_key() finds the verifier here; it caches verdicts for 5 s by default.
        app.state.keyplane_verifier = verifier or AsyncVerifier()
        yield
        if verifier is None:
            await app.state.keyplane_verifier.aclose()

    app = FastAPI(title="Notes, protected by keyplane", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/whoami")
    async def whoami(key: AnyKey) -> Caller:
        return Caller(key_id=key.key_id, name=key.name, project_id=key.project_id)

    @app.get("/notes")
    async def list_notes(key: Reader) -> list[Note]:
        return notes.get(key.project_id or "", [])

    @app.post("/notes", status_code=201)
    async def add_note(body: NoteIn, key: Writer) -> Note:
        mine = notes.setdefault(key.project_id or "", [])
        note = Note(id=len(mine) + 1, text=body.text, author_key_id=key.key_id)
        mine.append(note)
        return note

    return app


app = create_app()
