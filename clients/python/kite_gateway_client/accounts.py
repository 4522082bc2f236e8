"""AccountService: logging accounts in, adding and removing them, their profile and margins."""

from __future__ import annotations

from collections.abc import Mapping

from kite_gateway_api.v1 import account_pb2

from kite_gateway_client.calls import Connection


class AccountMethods(Connection):
    """Every AccountService RPC. Reads are retried; CompleteLogin (its request_token works once),
    AddAccount and RemoveAccount are not. Each method takes the request message as `request=`
    instead of the other arguments."""

    async def get_login_url(
        self,
        api_key: str = "",
        redirect_params: Mapping[str, str] | None = None,
        *,
        request: account_pb2.GetLoginUrlRequest | None = None,
        call_timeout: float | None = None,
    ) -> account_pb2.GetLoginUrlResponse:
        request = request or account_pb2.GetLoginUrlRequest(api_key=api_key, redirect_params=redirect_params)
        return await self._call(self.accounts.GetLoginUrl, request, retried=True, call_timeout=call_timeout)

    async def complete_login(
        self,
        api_key: str = "",
        request_token: str = "",
        api_secret: str = "",
        *,
        request: account_pb2.CompleteLoginRequest | None = None,
        call_timeout: float | None = None,
    ) -> account_pb2.CompleteLoginResponse:
        """Not retried: a request_token can be exchanged only once."""
        request = request or account_pb2.CompleteLoginRequest(
            api_key=api_key, request_token=request_token, api_secret=api_secret
        )
        return await self._call(self.accounts.CompleteLogin, request, retried=False, call_timeout=call_timeout)

    async def add_account(
        self,
        api_key: str = "",
        access_token: str = "",
        api_secret: str = "",
        *,
        request: account_pb2.AddAccountRequest | None = None,
        call_timeout: float | None = None,
    ) -> account_pb2.AddAccountResponse:
        request = request or account_pb2.AddAccountRequest(
            api_key=api_key, access_token=access_token, api_secret=api_secret
        )
        return await self._call(self.accounts.AddAccount, request, retried=False, call_timeout=call_timeout)

    async def list_accounts(
        self, *, request: account_pb2.ListAccountsRequest | None = None, call_timeout: float | None = None
    ) -> account_pb2.ListAccountsResponse:
        request = request or account_pb2.ListAccountsRequest()
        return await self._call(self.accounts.ListAccounts, request, retried=True, call_timeout=call_timeout)

    async def get_account(
        self,
        account_id: str = "",
        *,
        request: account_pb2.GetAccountRequest | None = None,
        call_timeout: float | None = None,
    ) -> account_pb2.GetAccountResponse:
        request = request or account_pb2.GetAccountRequest(account_id=account_id)
        return await self._call(self.accounts.GetAccount, request, retried=True, call_timeout=call_timeout)

    async def remove_account(
        self,
        account_id: str = "",
        invalidate_token: bool = False,
        *,
        request: account_pb2.RemoveAccountRequest | None = None,
        call_timeout: float | None = None,
    ) -> account_pb2.RemoveAccountResponse:
        request = request or account_pb2.RemoveAccountRequest(account_id=account_id, invalidate_token=invalidate_token)
        return await self._call(self.accounts.RemoveAccount, request, retried=False, call_timeout=call_timeout)

    async def get_profile(
        self,
        account_id: str = "",
        *,
        request: account_pb2.GetProfileRequest | None = None,
        call_timeout: float | None = None,
    ) -> account_pb2.GetProfileResponse:
        request = request or account_pb2.GetProfileRequest(account_id=account_id)
        return await self._call(self.accounts.GetProfile, request, retried=True, call_timeout=call_timeout)

    async def get_margins(
        self,
        account_id: str = "",
        segment: account_pb2.MarginSegment.ValueType = account_pb2.MARGIN_SEGMENT_UNSPECIFIED,
        *,
        request: account_pb2.GetMarginsRequest | None = None,
        call_timeout: float | None = None,
    ) -> account_pb2.GetMarginsResponse:
        """Both segments unless `segment` names one (amounts through `to_decimal`)."""
        request = request or account_pb2.GetMarginsRequest(account_id=account_id, segment=segment)
        return await self._call(self.accounts.GetMargins, request, retried=True, call_timeout=call_timeout)
