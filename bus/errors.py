"""Bus exceptions and the stable generic error codes carried in error replies."""

from __future__ import annotations

from typing import Any


class Code:
    """Generic error codes. Services add their own string codes (e.g. "UNKNOWN_STRATEGY")."""

    BAD_FRAME = "BAD_FRAME"  #: not a decodable envelope (garbage, truncated, wrong shape)
    TOO_LARGE = "TOO_LARGE"  #: frame over MAX_FRAME_BYTES
    BAD_VERSION = "BAD_VERSION"  #: envelope protocol version not supported
    BAD_REQUEST = "BAD_REQUEST"  #: envelope decoded but is not a well-formed request
    UNKNOWN_METHOD = "UNKNOWN_METHOD"  #: no handler registered for the method
    BAD_PARAMS = "BAD_PARAMS"  #: the handler rejected its parameters
    INTERNAL = "INTERNAL"  #: the handler raised an unexpected exception
    TIMEOUT = "TIMEOUT"  #: no reply within the client's timeout
    UNREACHABLE = "UNREACHABLE"  #: the service endpoint cannot be reached at all

    #: codes produced by the codec itself
    CodecCodes = frozenset({BAD_FRAME, TOO_LARGE, BAD_VERSION})


class BusError(Exception):
    """Base class of every error raised by the bus library."""


class CodecError(BusError):
    """A frame could not be encoded or decoded; ``code`` is one of ``Code.CodecCodes``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RequestError(BusError):
    """An error reply from a service (or a client-side failure such as a timeout)."""

    def __init__(self, code: str, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data

    def to_wire(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": self.data}

    @classmethod
    def from_wire(cls, error: Any) -> RequestError:
        """Build from a reply's ``error`` map; tolerate a malformed one."""
        if not isinstance(error, dict):
            return cls(Code.BAD_FRAME, f"malformed error reply: {error!r}")
        code = error.get("code")
        message = error.get("message")
        data = error.get("data")
        return cls(
            code if isinstance(code, str) else Code.INTERNAL,
            message if isinstance(message, str) else "",
            data if isinstance(data, dict) else None,
        )


class RequestTimeout(RequestError):
    """No reply arrived in time; the message names the endpoint that did not answer."""

    def __init__(self, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(Code.TIMEOUT, message, data)
