"""AccountService: logins, accounts and their session state, profile, margins."""

from __future__ import annotations

from dataclasses import asdict

import grpc
from kite_gateway_api.v1 import account_pb2, account_pb2_grpc

from kite_gateway.auth import current_principal
from kite_gateway.core.accounts import AccountManager, AccountSession, SessionState
from kite_gateway.grpc.mapping import decimal_pb, exchange_pb, order_type_pb, product_pb
from kite_gateway.kite import Egress, EgressMap, MarginSegment, Profile, SegmentMargins, SharedEgress

SESSION_STATES: dict[SessionState, account_pb2.SessionState.ValueType] = {
    SessionState.ACTIVE: account_pb2.SESSION_STATE_ACTIVE,
    SessionState.NEEDS_LOGIN: account_pb2.SESSION_STATE_NEEDS_LOGIN,
    SessionState.ERROR: account_pb2.SESSION_STATE_ERROR,
}
SEGMENTS: dict[int, MarginSegment] = {
    account_pb2.MARGIN_SEGMENT_EQUITY: "equity",
    account_pb2.MARGIN_SEGMENT_COMMODITY: "commodity",
}


def session_state_pb(state: SessionState) -> account_pb2.SessionState.ValueType:
    return SESSION_STATES[state]


def egress_pb(egress: Egress, shared: SharedEgress | None) -> account_pb2.AccountEgress:
    return account_pb2.AccountEgress(
        name=egress.name,
        route=egress.describe(),
        shared_ip=egress.shared_ip,
        accounts_sharing=list(shared.accounts) if shared is not None else [],
        beyond_family_size=shared is not None and shared.over_family_size,
    )


def account_pb(session: AccountSession, egress: account_pb2.AccountEgress | None = None) -> account_pb2.Account:
    state, detail = session.state()
    message = account_pb2.Account(
        account_id=session.account_id,
        user_name=session.user_name,
        api_key=session.api_key,
        session_state=session_state_pb(state),
        state_detail=detail,
        paper=session.paper,
        egress=egress,
    )
    for name, value in (
        ("login_time", session.login_time),
        ("token_expires_at", session.token_expires_at),
        ("create_time", session.create_time),
    ):
        if value is not None:
            getattr(message, name).FromDatetime(value)
    return message


def _segment_pb(margins: SegmentMargins) -> account_pb2.SegmentMargins:
    return account_pb2.SegmentMargins(
        enabled=margins.enabled,
        net=decimal_pb(margins.net),
        available=account_pb2.AvailableMargins(**{k: decimal_pb(v) for k, v in asdict(margins.available).items()}),
        utilised=account_pb2.UtilisedMargins(**{k: decimal_pb(v) for k, v in asdict(margins.utilised).items()}),
    )


def profile_pb(profile: Profile) -> account_pb2.Profile:
    return account_pb2.Profile(
        account_id=profile.user_id,
        user_name=profile.user_name,
        user_shortname=profile.user_shortname,
        user_type=profile.user_type,
        email=profile.email,
        broker=profile.broker,
        exchanges=[e for e in map(exchange_pb, profile.exchanges) if e],
        products=[p for p in map(product_pb, profile.products) if p],
        order_types=[o for o in map(order_type_pb, profile.order_types) if o],
        avatar_url=profile.avatar_url,
        demat_consent=profile.demat_consent,
    )


class AccountServicer(account_pb2_grpc.AccountServiceServicer):
    def __init__(self, accounts: AccountManager, egresses: EgressMap | None = None) -> None:
        self.accounts = accounts
        self.egresses = egresses or EgressMap()

    def _account_pb(self, session: AccountSession) -> account_pb2.Account:
        """The account with its egress and the accounts that share its IP."""
        egress = self.egresses.egress(session.account_id, session.api_key)
        everyone = [(s.account_id, s.api_key) for s in self.accounts.all()]
        shared = next((g for g in self.egresses.sharing(everyone) if session.account_id in g.accounts), None)
        return account_pb(session, egress_pb(egress, shared))

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
        return account_pb2.CompleteLoginResponse(account=self._account_pb(session))

    async def AddAccount(
        self, request: account_pb2.AddAccountRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.AddAccountResponse:
        session = await self.accounts.add_account(request.api_key, request.access_token, request.api_secret)
        return account_pb2.AddAccountResponse(account=self._account_pb(session))

    async def ListAccounts(
        self, request: account_pb2.ListAccountsRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.ListAccountsResponse:
        caller = current_principal.get()
        visible = [s for s in self.accounts.all() if caller is None or caller.may_read(s.account_id)]
        return account_pb2.ListAccountsResponse(accounts=[self._account_pb(s) for s in visible])

    async def GetAccount(
        self, request: account_pb2.GetAccountRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.GetAccountResponse:
        return account_pb2.GetAccountResponse(account=self._account_pb(self.accounts.get(request.account_id)))

    async def RemoveAccount(
        self, request: account_pb2.RemoveAccountRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.RemoveAccountResponse:
        await self.accounts.remove(request.account_id, request.invalidate_token)
        return account_pb2.RemoveAccountResponse()

    async def GetProfile(
        self, request: account_pb2.GetProfileRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.GetProfileResponse:
        profile = await self.accounts.profile(self.accounts.get(request.account_id))
        return account_pb2.GetProfileResponse(profile=profile_pb(profile))

    async def GetMargins(
        self, request: account_pb2.GetMarginsRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.GetMarginsResponse:
        session = self.accounts.get(request.account_id)
        margins = await self.accounts.margins(session, SEGMENTS.get(request.segment))
        reply = account_pb2.GetMarginsResponse()
        if margins.equity is not None:
            reply.equity.CopyFrom(_segment_pb(margins.equity))
        if margins.commodity is not None:
            reply.commodity.CopyFrom(_segment_pb(margins.commodity))
        return reply
