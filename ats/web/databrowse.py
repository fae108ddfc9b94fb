"""GET /api/data/...: the data store, read-only, for the console's Data page (`ats-ctl data
libraries | list LIBRARY | show LIBRARY SYMBOL`; nothing here deletes)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException

from ats.data import browse
from ats.storage.arctic import open_arctic

#: the most rows one request returns
MAX_ROWS = 1000


def clip(n: int | None) -> int | None:
    return None if n is None else max(0, min(n, MAX_ROWS))


def router(arctic_uri: str | None) -> APIRouter:
    api = APIRouter(prefix="/api/data")

    def arctic() -> Any:
        if arctic_uri is None:
            raise HTTPException(503, {"code": "UNAVAILABLE", "message": "no data store"})
        return open_arctic(arctic_uri)

    async def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, arctic(), *args, **kwargs)
        except browse.BrowseError as exc:
            raise HTTPException(404, {"code": "NO_DATA", "message": str(exc)}) from exc

    @api.get("/libraries", summary="`ats-ctl data libraries --json`")
    async def libraries() -> Any:
        return await run(browse.libraries)

    @api.get("/libraries/{library}", summary="`ats-ctl data list LIBRARY --json`: each "
             "symbol's rows, date range, columns and last update")
    async def symbols(library: str) -> Any:
        return [s.to_dict() for s in await run(browse.symbols, library)]

    @api.get("/libraries/{library}/{symbol}", summary="`ats-ctl data show LIBRARY SYMBOL "
             "--json`: its summary and its first (`head`) or last (`tail`, default 20) rows")
    async def show(library: str, symbol: str, head: int | None = None,
                   tail: int | None = None) -> Any:
        if head is not None and tail is not None:
            raise HTTPException(422, {"code": "BAD_INPUT", "message": "head or tail, not both"})
        summary = await run(browse.summary, library, symbol)
        df = await run(browse.rows, library, symbol, head=clip(head),
                       tail=20 if head is None and tail is None else clip(tail))
        return {"summary": summary.to_dict(), "rows": browse.records(df)}

    return api
