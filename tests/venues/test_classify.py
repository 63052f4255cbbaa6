"""classify(): every ccxt failure shape -> one VenueErrorKind, for state-changing calls and for reads."""

from __future__ import annotations

import inspect
import json

import aiohttp
import ccxt as ce
import pytest

from eclipse.venues.classify import BAN_MIN_RETRY_S, RATE_LIMIT_DEFAULT_S, RULES, classify, facts_of
from eclipse.venues.errors import VenueError, VenueErrorKind, error_class

K = VenueErrorKind
URL = "http://127.0.0.1:1/fapi/v1/order"


def body(code: int, msg: str) -> str:
    return json.dumps({"code": code, "msg": msg})


def coded(cls: type[Exception], code: int, msg: str) -> Exception:
    """The message shape of ccxt binance.handle_errors for a coded body: '<id> <body>'."""
    return cls("binanceusdm " + body(code, msg))


def http(cls: type[Exception], status: int, reason: str, text: str, method: str = "POST") -> Exception:
    """The message shape of ccxt handle_http_status_code: '<id> <method> <url> <status> <reason> <body>'."""
    return cls(f"binanceusdm {method} {URL} {status} {reason} {text}")


def caused(exc: Exception, cause: BaseException) -> Exception:
    exc.__cause__ = cause
    return exc


UNKNOWN_503 = '{"msg":"Unknown error, please check your request or try again later."}'

# (id, exception, kind on a state-changing call, kind on a read, expected venue code)
CASES: list[tuple[str, Exception, K, K, int | str | None]] = [
    (
        "refused",
        caused(ce.ExchangeNotAvailable(f"binanceusdm POST {URL}"), ConnectionRefusedError()),
        K.NETWORK,
        K.NETWORK,
        None,
    ),
    (
        "connect-timeout",
        caused(ce.RequestTimeout(f"binanceusdm POST {URL}"), aiohttp.ConnectionTimeoutError("connect")),
        K.NETWORK,
        K.NETWORK,
        None,
    ),
    (
        "read-timeout",
        caused(ce.RequestTimeout(f"binanceusdm POST {URL}"), TimeoutError()),
        K.OUTCOME_UNKNOWN,
        K.NETWORK,
        None,
    ),
    (
        "disconnect",
        caused(ce.ExchangeNotAvailable("x"), aiohttp.ServerDisconnectedError()),
        K.OUTCOME_UNKNOWN,
        K.NETWORK,
        None,
    ),
    (
        "client-error",
        caused(ce.ExchangeError("x"), aiohttp.ClientPayloadError("cut")),
        K.OUTCOME_UNKNOWN,
        K.NETWORK,
        None,
    ),
    (
        "503-no-code",
        http(ce.ExchangeNotAvailable, 503, "Service Unavailable", ""),
        K.OUTCOME_UNKNOWN,
        K.NETWORK,
        None,
    ),
    (
        "503-unknown",
        http(ce.ExchangeNotAvailable, 503, "Service Unavailable", UNKNOWN_503),
        K.OUTCOME_UNKNOWN,
        K.NETWORK,
        None,
    ),
    (
        "500-html",
        http(ce.ExchangeNotAvailable, 500, "Internal Server Error", "<html>oops</html>"),
        K.OUTCOME_UNKNOWN,
        K.NETWORK,
        None,
    ),
    ("502", http(ce.ExchangeNotAvailable, 502, "Bad Gateway", ""), K.OUTCOME_UNKNOWN, K.NETWORK, None),
    ("504", http(ce.RequestTimeout, 504, "Gateway Timeout", ""), K.OUTCOME_UNKNOWN, K.NETWORK, None),
    (
        "-1000",
        coded(ce.OperationFailed, -1000, "An unknown error occured while processing the request."),
        K.OUTCOME_UNKNOWN,
        K.NETWORK,
        -1000,
    ),
    (
        "-1006",
        coded(ce.OperationFailed, -1006, "Unexpected response. Execution status unknown."),
        K.OUTCOME_UNKNOWN,
        K.NETWORK,
        -1006,
    ),
    (
        "-1007",
        coded(ce.RequestTimeout, -1007, "Timeout waiting for response. Send status unknown."),
        K.OUTCOME_UNKNOWN,
        K.NETWORK,
        -1007,
    ),
    (
        "-1007-plain",
        coded(ce.ExchangeError, -1007, "Timeout waiting for response from backend server."),
        K.OUTCOME_UNKNOWN,
        K.NETWORK,
        -1007,
    ),
    (
        "503-service-unavailable",
        http(ce.ExchangeNotAvailable, 503, "Service Unavailable", '{"msg":"Service Unavailable."}'),
        K.EXCHANGE_BUSY,
        K.EXCHANGE_BUSY,
        None,
    ),
    (
        "-1001",
        coded(ce.OperationFailed, -1001, "Internal error; unable to process your request. Please try again."),
        K.EXCHANGE_BUSY,
        K.EXCHANGE_BUSY,
        -1001,
    ),
    (
        "-1008",
        coded(ce.OperationFailed, -1008, "Request throttled by system-level protection."),
        K.EXCHANGE_BUSY,
        K.EXCHANGE_BUSY,
        -1008,
    ),
    (
        "429",
        ce.DDoSProtection("binanceusdm 429 Too Many Requests " + body(-1003, "Too many requests")),
        K.RATE_LIMITED,
        K.RATE_LIMITED,
        -1003,
    ),
    (
        "418",
        ce.DDoSProtection("binanceusdm 418 I'm a teapot " + body(-1003, "banned until 1")),
        K.RATE_LIMITED,
        K.RATE_LIMITED,
        -1003,
    ),
    (
        "-1003",
        coded(ce.RateLimitExceeded, -1003, "Too much request weight used"),
        K.RATE_LIMITED,
        K.RATE_LIMITED,
        -1003,
    ),
    (
        "-1015",
        coded(ce.RateLimitExceeded, -1015, "Too many new orders"),
        K.RATE_LIMITED,
        K.RATE_LIMITED,
        -1015,
    ),
    (
        "-1021",
        coded(ce.InvalidNonce, -1021, "Timestamp for this request is outside of the recvWindow."),
        K.TIMESTAMP,
        K.TIMESTAMP,
        -1021,
    ),
    (
        "-1021-spot-table",
        coded(ce.BadRequest, -1021, "Timestamp for this request is outside of the recvWindow."),
        K.TIMESTAMP,
        K.TIMESTAMP,
        -1021,
    ),
    (
        "-2019",
        coded(ce.InsufficientFunds, -2019, "Margin is insufficient."),
        K.INSUFFICIENT_FUNDS,
        K.INSUFFICIENT_FUNDS,
        -2019,
    ),
    (
        "-2019-no-table",
        coded(ce.ExchangeError, -2019, "Margin is insufficient."),
        K.INSUFFICIENT_FUNDS,
        K.INSUFFICIENT_FUNDS,
        -2019,
    ),
    (
        "-2010-balance",
        coded(ce.InvalidOrder, -2010, "Account has insufficient balance for requested action."),
        K.INSUFFICIENT_FUNDS,
        K.INSUFFICIENT_FUNDS,
        -2010,
    ),
    (
        "-2010-duplicate",
        coded(ce.InvalidOrder, -2010, "Duplicate order sent."),
        K.DUPLICATE_CLIENT_ID,
        K.DUPLICATE_CLIENT_ID,
        -2010,
    ),
    (
        "-4116",
        coded(ce.InvalidOrder, -4116, "ClientOrderId is duplicated."),
        K.DUPLICATE_CLIENT_ID,
        K.DUPLICATE_CLIENT_ID,
        -4116,
    ),
    (
        "-4116-no-table",
        coded(ce.ExchangeError, -4116, "ClientOrderId is duplicated."),
        K.DUPLICATE_CLIENT_ID,
        K.DUPLICATE_CLIENT_ID,
        -4116,
    ),
    (
        "-2010-other",
        coded(ce.InvalidOrder, -2010, "Order would immediately match and take."),
        K.INVALID_ORDER,
        K.INVALID_ORDER,
        -2010,
    ),
    (
        "-2022",
        coded(ce.InvalidOrder, -2022, "ReduceOnly Order is rejected."),
        K.INVALID_ORDER,
        K.INVALID_ORDER,
        -2022,
    ),
    (
        "-2022-no-table",
        coded(ce.ExchangeError, -2022, "ReduceOnly Order is rejected."),
        K.INVALID_ORDER,
        K.INVALID_ORDER,
        -2022,
    ),
    (
        "-4164",
        coded(ce.ExchangeError, -4164, "Order's notional must be no smaller than 100."),
        K.INVALID_ORDER,
        K.INVALID_ORDER,
        -4164,
    ),
    (
        "-1111",
        coded(ce.BadRequest, -1111, "Precision is over the maximum defined for this asset."),
        K.INVALID_ORDER,
        K.INVALID_ORDER,
        -1111,
    ),
    (
        "bad-symbol",
        ce.BadSymbol("binanceusdm does not have market symbol FOO/BAR"),
        K.INVALID_ORDER,
        K.INVALID_ORDER,
        None,
    ),
    (
        "args",
        ce.ArgumentsRequired("binanceusdm fetchOrder() requires a symbol argument"),
        K.INVALID_ORDER,
        K.INVALID_ORDER,
        None,
    ),
    (
        "-2011",
        coded(ce.OrderNotFound, -2011, "Unknown order sent."),
        K.ORDER_NOT_FOUND,
        K.ORDER_NOT_FOUND,
        -2011,
    ),
    (
        "-2013",
        coded(ce.ExchangeError, -2013, "Order does not exist."),
        K.ORDER_NOT_FOUND,
        K.ORDER_NOT_FOUND,
        -2013,
    ),
    (
        "-2015",
        coded(ce.AuthenticationError, -2015, "Invalid API-key, IP, or permissions for action."),
        K.AUTH,
        K.AUTH,
        -2015,
    ),
    (
        "-1022",
        coded(ce.ExchangeError, -1022, "Signature for this request is not valid."),
        K.AUTH,
        K.AUTH,
        -1022,
    ),
    ("permission", ce.PermissionDenied("binanceusdm no permission"), K.AUTH, K.AUTH, None),
    ("suspended", ce.AccountSuspended("binanceusdm account suspended"), K.AUTH, K.AUTH, None),
    ("401", http(ce.AuthenticationError, 401, "Unauthorized", ""), K.AUTH, K.AUTH, None),
    (
        "not-supported",
        ce.NotSupported("binanceusdm fetchFoo() is not supported yet"),
        K.NOT_SUPPORTED,
        K.NOT_SUPPORTED,
        None,
    ),
    (
        "unknown-code-4xx",
        coded(ce.ExchangeError, -4999, "Some new rule."),
        K.INVALID_ORDER,
        K.INVALID_ORDER,
        -4999,
    ),
    (
        "coinbase-insufficient",
        ce.InsufficientFunds('coinbase {"success":false,"error_response":{"error":"INSUFFICIENT_FUND"}}'),
        K.INSUFFICIENT_FUNDS,
        K.INSUFFICIENT_FUNDS,
        "INSUFFICIENT_FUND",
    ),
    (
        "coinbase-order-not-found",
        ce.ExchangeError(
            'coinbase {"error":"NOT_FOUND","error_details":"order with this orderID was not found",'
            '"message":"order with this orderID was not found"}'
        ),
        K.ORDER_NOT_FOUND,
        K.ORDER_NOT_FOUND,
        "NOT_FOUND",
    ),
    ("parse-bug", KeyError("orderId"), K.OUTCOME_UNKNOWN, K.NETWORK, None),
    ("bad-response", ce.BadResponse("binanceusdm garbage"), K.OUTCOME_UNKNOWN, K.NETWORK, None),
]


@pytest.mark.parametrize(("exc", "write", "read", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_classification_table(exc: Exception, write: K, read: K, code: int | str | None) -> None:
    w = classify(exc, venue="binanceusdm", operation="create_order", state_changing=True)
    r = classify(exc, venue="binanceusdm", operation="fetch_order", state_changing=False)
    assert (w.kind, r.kind) == (write, read), w
    assert w.code == code
    assert w.venue == "binanceusdm"
    assert w.operation == "create_order"
    assert type(exc).__name__ in w.message


def test_a_state_changing_timeout_or_5xx_is_never_a_definitive_rejection() -> None:
    transport = [c for c in CASES if c[1].__class__ in (ce.RequestTimeout, ce.ExchangeNotAvailable)]
    assert len(transport) >= 6
    for name, exc, *_ in transport:
        kind = classify(exc, venue="v", operation="create_order", state_changing=True).kind
        assert kind in (K.OUTCOME_UNKNOWN, K.NETWORK, K.EXCHANGE_BUSY), name
        if kind is not K.OUTCOME_UNKNOWN:  # only when the venue said nothing was done / nothing was sent
            assert "refused" in name or "timeout" in name or "service-unavailable" in name, name


ALL_CCXT = sorted(
    (c for _, c in inspect.getmembers(ce, inspect.isclass) if issubclass(c, ce.BaseError)),
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("cls", ALL_CCXT, ids=lambda c: c.__name__)
def test_every_ccxt_class_is_classified_safely(cls: type[Exception]) -> None:
    exc = cls("binanceusdm something failed")
    write = classify(exc, venue="v", operation="create_order", state_changing=True)
    read = classify(exc, venue="v", operation="fetch_ticker", state_changing=False)
    assert isinstance(write, VenueError)
    assert isinstance(read, VenueError)
    assert read.kind is not K.OUTCOME_UNKNOWN  # reads never have an unknown outcome
    if issubclass(cls, ce.OperationFailed) and not issubclass(
        cls, (ce.DDoSProtection, ce.RateLimitExceeded, ce.InvalidNonce)
    ):
        # transport-level: the order may have landed
        assert write.kind is K.OUTCOME_UNKNOWN
        assert not error_class(write.kind).definitive


def test_retry_after_header_and_defaults() -> None:
    e429 = ce.DDoSProtection("binanceusdm 429 Too Many Requests ")
    e418 = ce.DDoSProtection("binanceusdm 418 I'm a teapot ")

    def retry(exc: Exception, headers: dict[str, str] | None, status: int | None = None) -> float | None:
        err = classify(
            exc, venue="v", operation="o", state_changing=False, http_status=status, headers=headers
        )
        return err.retry_after_s

    assert retry(e429, {"Retry-After": "7"}) == 7.0
    assert retry(e429, {"retry-after": "500"}) == 60.0  # clamped
    assert retry(e429, {"Retry-After": "0"}) == 1.0
    assert retry(e429, None) == RATE_LIMIT_DEFAULT_S
    assert retry(e429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == RATE_LIMIT_DEFAULT_S
    assert retry(e418, None) == BAN_MIN_RETRY_S
    assert retry(e418, {"Retry-After": "3600"}) == 3600.0
    assert retry(e418, {"Retry-After": "5"}) == BAN_MIN_RETRY_S
    # the status given by the response hook wins over the message
    assert retry(ce.DDoSProtection("no status in here"), None, status=418) == BAN_MIN_RETRY_S
    assert classify(e429, venue="v", operation="o", state_changing=True).retry_after_s == RATE_LIMIT_DEFAULT_S


def test_non_rate_limit_errors_have_no_retry_after() -> None:
    err = classify(
        coded(ce.InsufficientFunds, -2019, "Margin is insufficient."),
        venue="v",
        operation="o",
        state_changing=True,
    )
    assert err.retry_after_s is None


def test_status_is_parsed_from_the_message_or_taken_from_the_hook() -> None:
    assert facts_of(http(ce.ExchangeNotAvailable, 503, "Service Unavailable", "")).status == 503
    assert facts_of(ce.DDoSProtection("binanceusdm 418 I'm a teapot {}")).status == 418
    assert facts_of(coded(ce.ExchangeError, -1, "x"), http_status=400).status == 400
    assert facts_of(ce.ExchangeError("no status")).status is None


def test_a_5xx_with_an_unfamiliar_code_is_not_a_rejection() -> None:
    exc = coded(ce.ExchangeError, -1099, "Not found, unauthenticated, or unauthorized.")
    assert (
        classify(exc, venue="v", operation="o", state_changing=True, http_status=502).kind
        is K.OUTCOME_UNKNOWN
    )
    assert (
        classify(exc, venue="v", operation="o", state_changing=True, http_status=400).kind is K.INVALID_ORDER
    )


def test_messages_are_redacted() -> None:
    secret, key = "s3cr3t-VALUE-xyz", "APIKEY-abcdef"
    exc = ce.ExchangeNotAvailable(
        f"binanceusdm GET {URL}?symbol=BTCUSDT&timestamp=1&signature=deadbeef00 503 Service Unavailable "
        f"{secret} {key}"
    )
    err = classify(exc, venue="v", operation="o", state_changing=False, secrets=(secret, key))
    for text in (str(err), repr(err), err.message):
        assert secret not in text
        assert key not in text
        assert "deadbeef00" not in text
    assert "signature=***" in err.message


def test_a_venue_error_passes_through_unchanged() -> None:
    original = VenueError(K.INVALID_ORDER, "local", local=True)
    assert classify(original, venue="v", operation="o", state_changing=True) is original


def test_long_messages_are_truncated() -> None:
    err = classify(
        ce.ExchangeError("binanceusdm " + "x" * 5000), venue="v", operation="o", state_changing=False
    )
    assert len(err.message) < 800


def test_every_rule_is_reachable() -> None:
    hit = {next(r.name for r in RULES if r.match(facts_of(exc))) for _, exc, *_ in CASES}
    assert hit >= {r.name for r in RULES} - {"anything else"} - {"plain ccxt exchange error"}
    assert "anything else" in hit
