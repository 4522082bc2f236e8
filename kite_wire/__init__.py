"""Kite Connect's wire protocol as pure code (no I/O), shared by the gateway (which speaks to Kite)
and the simulator (which is Kite): ticker packets, control messages and text frames, limits and the
rate table, the instrument row and CSV, error types, formats, checksums and the recording codec.

The names below are the curated surface; the modules (kite_wire.ticker_packets, kite_wire.limits, ...)
hold the rest (struct layouts, segment ids, packet lengths)."""

from kite_wire.checksums import checksums_match, postback_checksum, session_checksum
from kite_wire.errors import KiteErrorType, error_body, outcome_unknown, refine_general, retryable
from kite_wire.formats import (
    IST,
    kite_candle_timestamp,
    kite_date,
    kite_decimal,
    kite_number,
    kite_timestamp,
    parse_kite_timestamp,
)
from kite_wire.instruments import Instrument, format_instruments_csv, instrument_from_row, parse_instruments_csv
from kite_wire.limits import (
    CONNECTIONS_PER_API_KEY,
    HISTORICAL_SPAN_DAYS,
    INSTRUMENTS_PER_CONNECTION,
    QUOTE_BATCH,
    RATES_PER_SECOND,
    RateClass,
    rate_class,
)
from kite_wire.recording import Frame, Recording, RecordingError
from kite_wire.ticker_control import (
    ControlError,
    ControlMessage,
    SetMode,
    Subscribe,
    Unsubscribe,
    encode_control,
    parse_control,
    subscription_messages,
)
from kite_wire.ticker_packets import MODES, DepthEntry, Tick, decode_message, encode_packet, frame
from kite_wire.ticker_text import TextFrame, encode_text_frame, parse_text_frame

__all__ = [
    "CONNECTIONS_PER_API_KEY",
    "HISTORICAL_SPAN_DAYS",
    "INSTRUMENTS_PER_CONNECTION",
    "IST",
    "MODES",
    "QUOTE_BATCH",
    "RATES_PER_SECOND",
    "ControlError",
    "ControlMessage",
    "DepthEntry",
    "Frame",
    "Instrument",
    "KiteErrorType",
    "RateClass",
    "Recording",
    "RecordingError",
    "SetMode",
    "Subscribe",
    "TextFrame",
    "Tick",
    "Unsubscribe",
    "checksums_match",
    "decode_message",
    "encode_control",
    "encode_packet",
    "encode_text_frame",
    "error_body",
    "format_instruments_csv",
    "frame",
    "instrument_from_row",
    "kite_candle_timestamp",
    "kite_date",
    "kite_decimal",
    "kite_number",
    "kite_timestamp",
    "outcome_unknown",
    "parse_control",
    "parse_instruments_csv",
    "parse_kite_timestamp",
    "parse_text_frame",
    "postback_checksum",
    "rate_class",
    "refine_general",
    "retryable",
    "session_checksum",
    "subscription_messages",
]
