"""Who may move a kill switch (kite_gateway/auth/policy.py): a trader engages its account's switch;
releasing any switch, or engaging the gateway-wide one, is an admin's."""

from __future__ import annotations

import pytest

from kite_gateway.auth.policy import authorize_kill_switch
from kite_gateway.auth.principals import Principal
from kite_gateway.errors import GatewayError, Status

TRADER = Principal("desk", trade=frozenset({"AB1234"}))
ADMIN = Principal("ops", admin=True)


def test_a_trader_may_engage_its_accounts_switch() -> None:
    authorize_kill_switch(TRADER, "AB1234", engaged=True)


@pytest.mark.parametrize(
    ("account_id", "engaged", "what"),
    [("AB1234", False, "releasing a kill switch"), ("", True, "the gateway-wide kill switch"),
     ("", False, "releasing a kill switch")],
)  # fmt: skip
def test_releasing_or_the_gateway_switch_needs_an_admin(account_id: str, engaged: bool, what: str) -> None:
    with pytest.raises(GatewayError) as caught:
        authorize_kill_switch(TRADER, account_id, engaged)
    assert caught.value.code == Status.PERMISSION_DENIED
    assert caught.value.message == f"{what} needs an admin principal; 'desk' is not one"
    authorize_kill_switch(ADMIN, account_id, engaged)


def test_without_authentication_anyone_may() -> None:
    authorize_kill_switch(None, "", engaged=False)
