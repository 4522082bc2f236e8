"""Kite's error answers: an exception type name, a message and the HTTP status it travels with
(the types and statuses are kite_wire.errors')."""

from __future__ import annotations

from typing import Any

from kite_wire import HTTP_STATUS, NOT_FOUND, TOO_MANY_REQUESTS, KiteErrorType, error_body


class KiteError(Exception):
    """An error the simulator answers with Kite's envelope:
    `{"status": "error", "message": ..., "error_type": ..., "data": ...}`."""

    def __init__(self, error_type: str, message: str, http_status: int, data: Any = None) -> None:
        super().__init__(message)
        self.error_type = str(error_type)
        self.message = message
        self.http_status = http_status
        self.data = data

    def body(self) -> dict[str, Any]:
        return error_body(self.error_type, self.message, self.data)


def _error(error_type: KiteErrorType, message: str, http_status: int | None = None) -> KiteError:
    return KiteError(error_type, message, HTTP_STATUS[error_type] if http_status is None else http_status)


def token_error(message: str = "Incorrect `api_key` or `access_token`.") -> KiteError:
    return _error(KiteErrorType.TOKEN, message)


def input_error(message: str) -> KiteError:
    return _error(KiteErrorType.INPUT, message)


def order_error(message: str) -> KiteError:
    return _error(KiteErrorType.ORDER, message)


def permission_error(message: str) -> KiteError:
    return _error(KiteErrorType.PERMISSION, message)


def general_error(message: str, http_status: int = HTTP_STATUS[KiteErrorType.GENERAL]) -> KiteError:
    return _error(KiteErrorType.GENERAL, message, http_status)


def network_error(message: str, http_status: int = HTTP_STATUS[KiteErrorType.NETWORK]) -> KiteError:
    return _error(KiteErrorType.NETWORK, message, http_status)


def data_error(message: str, http_status: int = HTTP_STATUS[KiteErrorType.DATA]) -> KiteError:
    return _error(KiteErrorType.DATA, message, http_status)


def not_found(message: str = "Route not found") -> KiteError:
    return _error(KiteErrorType.GENERAL, message, NOT_FOUND)


def too_many_requests() -> KiteError:
    return _error(KiteErrorType.NETWORK, "Too many requests", TOO_MANY_REQUESTS)
