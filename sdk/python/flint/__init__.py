"""The Flint AI gateway's Python SDK.

`Flint` and `AsyncFlint` are the official `openai.OpenAI` and `openai.AsyncOpenAI` clients
pointed at a Flint gateway's OpenAI-compatible `/v1`: everything the OpenAI SDK does works
unchanged. They add Flint's own routes:

- `client.account.me()`: `GET /auth/me` (the user, today's usage, the plan's limits);
- `client.billing.history(limit=, cursor=)`: `GET /api/billing/history`;
- `client.billing.topup(amount_rub= | amount_usd= | plan=)`: `POST /api/billing/topup`;
- `client.billing.payment(payment_id)`: `GET /api/billing/payments/{id}`;
- `client.catalog.list(tier=, company=, category=)`: `GET /api/models`, the list of models.

The key and the gateway come from the arguments, else from `FLINT_API_KEY` and `FLINT_BASE_URL`
(the gateway's origin, with or without `/v1`; default `http://127.0.0.1:8787`). A 402 from any
call raises `InsufficientBalanceError`, a subclass of `openai.APIStatusError`; the gateway's
`/api/*` errors (`{"detail": {"error", "code", ...}}`) raise the same classes as its `/v1`
errors, with `.code` and `.message` read from the detail.
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any, Dict, List, Mapping, Optional, Union

import openai
from openai import APIStatusError, OpenAIError

__all__ = [
    "DEFAULT_BASE_URL",
    "AsyncFlint",
    "Flint",
    "InsufficientBalanceError",
    "__version__",
]

__version__ = "0.1.0"

DEFAULT_BASE_URL = "http://127.0.0.1:8787"


class InsufficientBalanceError(APIStatusError):
    """A 402: the balance (or the API key's budget) cannot cover the request.

    `.code` says which: `insufficient_quota` (the balance) or `key_budget_exceeded` (the API
    key's own cap). `.body` is the error object (OpenAI's `error`, or Stone's `detail` with its
    `error` text also as `message`).
    """

    status_code = 402


def _origin(base_url: object) -> str:
    """The gateway's origin from a base URL given with or without the trailing `/v1`."""
    url = str(base_url).strip().rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")].rstrip("/")
    if not url:
        raise OpenAIError("The Flint base URL is empty: pass base_url= or set FLINT_BASE_URL")
    return url


def _settings(api_key: Any, base_url: Any) -> "tuple[Any, str]":
    if api_key is None or api_key == "":
        api_key = os.environ.get("FLINT_API_KEY") or None
    if api_key is None:
        raise OpenAIError(
            "No Flint API key: pass api_key= or set the FLINT_API_KEY environment variable"
        )
    if base_url is None or base_url == "":
        base_url = os.environ.get("FLINT_BASE_URL") or DEFAULT_BASE_URL
    return api_key, _origin(base_url)


def _stone_error(body: object) -> Optional[Dict[str, Any]]:
    """Stone's `/api/*` envelope `{"detail": {...}}` as an OpenAI-style error object, else None."""
    if not isinstance(body, Mapping) or "error" in body or "detail" not in body:
        return None
    detail = body["detail"]
    if isinstance(detail, Mapping):
        error = dict(detail)
        text = detail.get("error")
        error["message"] = text if isinstance(text, str) else None
        error.setdefault("code", None)
        error.setdefault("type", None)
        return error
    if isinstance(detail, str):
        return {"message": detail, "code": None, "type": None}
    return None


def _status_error(openai_error: Any, err_msg: str, body: object, response: Any) -> APIStatusError:
    error = _stone_error(body)
    if error is not None:
        if error["message"]:
            err_msg = f"{err_msg} - {error['message']}"
        body = {"error": error}
    if response.status_code == 402:
        data = body.get("error", body) if isinstance(body, Mapping) else body
        return InsufficientBalanceError(err_msg, response=response, body=data)
    # The OpenAI SDK's own classes for every other status.
    return openai_error(err_msg, body=body, response=response)


def _params(**params: Any) -> Dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _topup_body(amount_rub: Any, amount_usd: Any, plan: Any) -> Dict[str, Any]:
    body = _params(amount_rub=amount_rub, amount_usd=amount_usd, plan=plan)
    if len(body) != 1:
        raise TypeError("billing.topup takes exactly one of amount_rub=, amount_usd= or plan=")
    return body


class _Resource:
    def __init__(self, client: Any) -> None:
        self._client = client

    def _url(self, path: str) -> str:
        return self._client.flint_origin + path

    def _get(self, path: str, params: Optional[Dict[str, Any]] = None) -> Any:
        return self._client.get(self._url(path), cast_to=object, options={"params": params or {}})

    def _post(self, path: str, body: Dict[str, Any]) -> Any:
        return self._client.post(self._url(path), body=body, cast_to=object)


class Account(_Resource):
    def me(self) -> Dict[str, Any]:
        """`GET /auth/me`: `{"user": {...}, "usage": {...}, "limits": {...}}`."""
        return self._get("/auth/me")


class Billing(_Resource):
    def history(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> Dict[str, Any]:
        """`GET /api/billing/history`: `{"entries": [...], "next_cursor": str | None}`."""
        return self._get("/api/billing/history", _params(limit=limit, cursor=cursor))

    def topup(
        self,
        *,
        amount_rub: Union[int, float, None] = None,
        amount_usd: Union[int, float, None] = None,
        plan: Optional[str] = None,
    ) -> Dict[str, Any]:
        """`POST /api/billing/topup` with one of the three: `{"payment_id", "confirmation_url", ...}`."""
        return self._post("/api/billing/topup", _topup_body(amount_rub, amount_usd, plan))

    def payment(self, payment_id: str) -> Dict[str, Any]:
        """`GET /api/billing/payments/{id}`: `{"payment_id", "status", "kind", ...}`."""
        return self._get("/api/billing/payments/" + _path_segment(payment_id))


class Catalog(_Resource):
    def list(
        self,
        *,
        tier: Optional[str] = None,
        company: Optional[str] = None,
        category: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        """`GET /api/models`: the models matching every filter given (case-insensitive)."""
        answer = self._get("/api/models", _params(tier=tier, company=company, category=category))
        return answer["models"]


class AsyncAccount(_Resource):
    async def me(self) -> Dict[str, Any]:
        """`GET /auth/me`."""
        return await self._get("/auth/me")


class AsyncBilling(_Resource):
    async def history(
        self, *, limit: Optional[int] = None, cursor: Optional[str] = None
    ) -> Dict[str, Any]:
        """`GET /api/billing/history`."""
        return await self._get("/api/billing/history", _params(limit=limit, cursor=cursor))

    async def topup(
        self,
        *,
        amount_rub: Union[int, float, None] = None,
        amount_usd: Union[int, float, None] = None,
        plan: Optional[str] = None,
    ) -> Dict[str, Any]:
        """`POST /api/billing/topup`."""
        return await self._post("/api/billing/topup", _topup_body(amount_rub, amount_usd, plan))

    async def payment(self, payment_id: str) -> Dict[str, Any]:
        """`GET /api/billing/payments/{id}`."""
        return await self._get("/api/billing/payments/" + _path_segment(payment_id))


class AsyncCatalog(_Resource):
    async def list(
        self,
        *,
        tier: Optional[str] = None,
        company: Optional[str] = None,
        category: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        """`GET /api/models`."""
        answer = await self._get(
            "/api/models", _params(tier=tier, company=company, category=category)
        )
        return answer["models"]


def _path_segment(value: str) -> str:
    from urllib.parse import quote

    if not value:
        raise ValueError("payment_id is empty")
    return quote(str(value), safe="")


class Flint(openai.OpenAI):
    """`openai.OpenAI` pointed at a Flint gateway, with `account`, `billing` and `catalog`."""

    flint_origin: str

    def __init__(self, *, api_key: Any = None, base_url: Any = None, **kwargs: Any) -> None:
        api_key, origin = _settings(api_key, base_url)
        self.flint_origin = origin
        super().__init__(api_key=api_key, base_url=origin + "/v1", **kwargs)

    def _make_status_error(self, err_msg: str, *, body: object, response: Any) -> APIStatusError:
        return _status_error(super()._make_status_error, err_msg, body, response)

    @cached_property
    def account(self) -> Account:
        return Account(self)

    @cached_property
    def billing(self) -> Billing:
        return Billing(self)

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self)


class AsyncFlint(openai.AsyncOpenAI):
    """`openai.AsyncOpenAI` pointed at a Flint gateway, with `account`, `billing` and `catalog`."""

    flint_origin: str

    def __init__(self, *, api_key: Any = None, base_url: Any = None, **kwargs: Any) -> None:
        api_key, origin = _settings(api_key, base_url)
        self.flint_origin = origin
        super().__init__(api_key=api_key, base_url=origin + "/v1", **kwargs)

    def _make_status_error(self, err_msg: str, *, body: object, response: Any) -> APIStatusError:
        return _status_error(super()._make_status_error, err_msg, body, response)

    @cached_property
    def account(self) -> AsyncAccount:
        return AsyncAccount(self)

    @cached_property
    def billing(self) -> AsyncBilling:
        return AsyncBilling(self)

    @cached_property
    def catalog(self) -> AsyncCatalog:
        return AsyncCatalog(self)
