"""Kite's error answers: an exception type name, a message and the HTTP status it travels with."""

from __future__ import annotations

from typing import Any


class KiteError(Exception):
    """An error the simulator answers with Kite's envelope:
    `{"status": "error", "message": ..., "error_type": ..., "data": ...}`."""

    def __init__(self, error_type: str, message: str, http_status: int, data: Any = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.http_status = http_status
        self.data = data

    def body(self) -> dict[str, Any]:
        return {"status": "error", "message": self.message, "data": self.data, "error_type": self.error_type}


def token_error(message: str = "Incorrect `api_key` or `access_token`.") -> KiteError:
    return KiteError("TokenException", message, 403)


def input_error(message: str) -> KiteError:
    return KiteError("InputException", message, 400)


def order_error(message: str) -> KiteError:
    return KiteError("OrderException", message, 400)


def permission_error(message: str) -> KiteError:
    return KiteError("PermissionException", message, 403)


def general_error(message: str, http_status: int = 500) -> KiteError:
    return KiteError("GeneralException", message, http_status)


def network_error(message: str, http_status: int = 503) -> KiteError:
    return KiteError("NetworkException", message, http_status)


def data_error(message: str, http_status: int = 502) -> KiteError:
    return KiteError("DataException", message, http_status)


def not_found(message: str = "Route not found") -> KiteError:
    return KiteError("GeneralException", message, 404)


def too_many_requests() -> KiteError:
    return KiteError("NetworkException", "Too many requests", 429)
