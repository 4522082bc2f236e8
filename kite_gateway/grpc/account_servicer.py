"""AccountService: logins, accounts and their session state, profile, margins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
from kite_gateway_api.v1 import account_pb2, account_pb2_grpc

from kite_gateway.auth.principals import current_principal
from kite_gateway.core.accounts.session import AccountSession
from kite_gateway.grpc.mapping import decimal_pb, exchange_pb, order_type_pb, product_pb
from kite_gateway.kite.limits import EndpointClass

if TYPE_CHECKING:
    from kite_gateway.app import Runtime


def account_pb(session: AccountSession) -> account_pb2.Account:
    state, detail = session.state()
    message = account_pb2.Account(
        account_id=session.account_id,
        user_name=session.user_name,
        api_key=session.api_key,
        session_state=state,  # type: ignore[arg-type]
        state_detail=detail,
        paper=session.paper,
    )
    for name, value in (
        ("login_time", session.login_time),
        ("token_expires_at", session.token_expires_at),
        ("create_time", session.create_time),
    ):
        if value is not None:
            getattr(message, name).FromDatetime(value)
    return message


def _segment_pb(data: dict[str, Any]) -> account_pb2.SegmentMargins:
    available, utilised = data.get("available", {}), data.get("utilised", {})
    return account_pb2.SegmentMargins(
        enabled=bool(data.get("enabled")),
        net=decimal_pb(data.get("net")),
        available=account_pb2.AvailableMargins(
            **{k: decimal_pb(available.get(k)) for k in account_pb2.AvailableMargins.DESCRIPTOR.fields_by_name}
        ),
        utilised=account_pb2.UtilisedMargins(
            **{k: decimal_pb(utilised.get(k)) for k in account_pb2.UtilisedMargins.DESCRIPTOR.fields_by_name}
        ),
    )


class AccountServicer(account_pb2_grpc.AccountServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.accounts = runtime.accounts

    async def GetLoginUrl(
        self, request: account_pb2.GetLoginUrlRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.GetLoginUrlResponse:
        return account_pb2.GetLoginUrlResponse(
            login_url=self.accounts.login_url(request.api_key, dict(request.redirect_params))
        )

    async def CompleteLogin(
        self, request: account_pb2.CompleteLoginRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.CompleteLoginResponse:
        session = await self.accounts.complete_login(request.api_key, request.request_token, request.api_secret)
        return account_pb2.CompleteLoginResponse(account=account_pb(session))

    async def AddAccount(
        self, request: account_pb2.AddAccountRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.AddAccountResponse:
        session = await self.accounts.add_account(request.api_key, request.access_token, request.api_secret)
        return account_pb2.AddAccountResponse(account=account_pb(session))

    async def ListAccounts(
        self, request: account_pb2.ListAccountsRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.ListAccountsResponse:
        caller = current_principal.get()
        visible = [s for s in self.accounts.all() if caller is None or caller.may_read(s.account_id)]
        return account_pb2.ListAccountsResponse(accounts=[account_pb(s) for s in visible])

    async def GetAccount(
        self, request: account_pb2.GetAccountRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.GetAccountResponse:
        return account_pb2.GetAccountResponse(account=account_pb(self.accounts.get(request.account_id)))

    async def RemoveAccount(
        self, request: account_pb2.RemoveAccountRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.RemoveAccountResponse:
        await self.accounts.remove(request.account_id, request.invalidate_token)
        return account_pb2.RemoveAccountResponse()

    async def GetProfile(
        self, request: account_pb2.GetProfileRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.GetProfileResponse:
        profile = await self.accounts.profile(self.accounts.get(request.account_id))
        return account_pb2.GetProfileResponse(
            profile=account_pb2.Profile(
                account_id=profile.get("user_id", ""),
                user_name=profile.get("user_name", ""),
                user_shortname=profile.get("user_shortname", ""),
                user_type=profile.get("user_type", ""),
                email=profile.get("email", ""),
                broker=profile.get("broker", ""),
                exchanges=[e for e in map(exchange_pb, profile.get("exchanges", [])) if e],
                products=[p for p in map(product_pb, profile.get("products", [])) if p],
                order_types=[o for o in map(order_type_pb, profile.get("order_types", [])) if o],
                avatar_url=profile.get("avatar_url") or "",
                demat_consent=(profile.get("meta") or {}).get("demat_consent", ""),
            )
        )

    async def GetMargins(
        self, request: account_pb2.GetMarginsRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.GetMarginsResponse:
        kite = self.accounts.get(request.account_id).active()
        if request.segment == account_pb2.MARGIN_SEGMENT_EQUITY:
            return account_pb2.GetMarginsResponse(
                equity=_segment_pb(await kite.read(EndpointClass.OTHER, "margins", "equity"))
            )
        if request.segment == account_pb2.MARGIN_SEGMENT_COMMODITY:
            data = await kite.read(EndpointClass.OTHER, "margins", "commodity")
            return account_pb2.GetMarginsResponse(commodity=_segment_pb(data))
        both = await kite.read(EndpointClass.OTHER, "margins")
        return account_pb2.GetMarginsResponse(
            equity=_segment_pb(both["equity"]), commodity=_segment_pb(both["commodity"])
        )
