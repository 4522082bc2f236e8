"""The gRPC servicers of kite_gateway.v1 and the conversions between Kite's JSON and the protos."""

from kite_gateway.grpc.account_health import HealthSources, publish
from kite_gateway.grpc.account_servicer import AccountServicer
from kite_gateway.grpc.alert_servicer import AlertServicer
from kite_gateway.grpc.audit_rpcs import AuditRpcs
from kite_gateway.grpc.exit_mapping import tick_price, tick_quote
from kite_gateway.grpc.forwarded_principal import SERVED_BY
from kite_gateway.grpc.forwarding import Forwarding, OwnerLookup
from kite_gateway.grpc.forwarding_routes import LOCAL_METHODS
from kite_gateway.grpc.gtt_rpcs import GttRpcs
from kite_gateway.grpc.kite_alert_rpcs import KiteAlertRpcs
from kite_gateway.grpc.market_data_servicer import MarketDataServicer
from kite_gateway.grpc.order_servicer import OrderServicer
from kite_gateway.grpc.order_update_rpcs import OrderUpdateRpcs
from kite_gateway.grpc.portfolio_servicer import PortfolioServicer
from kite_gateway.grpc.report_servicer import ReportServicer
from kite_gateway.grpc.request_limits import MAX_REQUEST_BYTES
from kite_gateway.grpc.server import (
    Gateway,
    StartupError,
    ensure_data_dir,
    load_caller_principals,
    run_until_signalled,
)
from kite_gateway.grpc.signal_servicer import SignalServicer
from kite_gateway.grpc.status import STATUS_DETAILS_KEY, rpc_status
from kite_gateway.grpc.tick_encoding import ProtoTickEncoding

__all__ = [
    "LOCAL_METHODS",
    "MAX_REQUEST_BYTES",
    "SERVED_BY",
    "STATUS_DETAILS_KEY",
    "AccountServicer",
    "AlertServicer",
    "AuditRpcs",
    "Forwarding",
    "Gateway",
    "GttRpcs",
    "HealthSources",
    "KiteAlertRpcs",
    "MarketDataServicer",
    "OrderServicer",
    "OrderUpdateRpcs",
    "OwnerLookup",
    "PortfolioServicer",
    "ProtoTickEncoding",
    "ReportServicer",
    "SignalServicer",
    "StartupError",
    "ensure_data_dir",
    "load_caller_principals",
    "publish",
    "rpc_status",
    "run_until_signalled",
    "tick_price",
    "tick_quote",
]
