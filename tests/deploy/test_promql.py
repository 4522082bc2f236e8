"""The PromQL selector extractor the rule tests rely on: it must find every series an expression
reads, with its matchers, and nothing that is a function, aggregation, keyword, grouping label,
duration, number or string."""

from __future__ import annotations

import pytest

from tests.deploy.promql import Selector, metric_names, selectors


def test_a_selector_with_matchers_gives_its_name_and_each_matcher_unquoted() -> None:
    found = selectors(r'rate(grpc_server_handled_total{grpc_service=~"kite_gateway\\.v1\\..+", grpc_code!="OK"}[5m])')
    assert found == [
        Selector(
            "grpc_server_handled_total", (("grpc_service", "=~", r"kite_gateway\.v1\..+"), ("grpc_code", "!=", "OK"))
        )
    ]


def test_functions_aggregations_grouping_labels_and_durations_are_not_metric_names() -> None:
    expr = """
      histogram_quantile(0.99, sum by (le, grpc_method) (rate(grpc_server_handling_seconds_bucket[5m])))
        > on (grpc_method) group_left (account_id) max without (instance) (kite_ticker_up offset 1h30m)
    """
    assert metric_names(expr) == {"grpc_server_handling_seconds_bucket", "kite_ticker_up"}


def test_grouping_after_the_aggregated_expression_is_skipped_too() -> None:
    assert metric_names("sum(rate(kite_ticks_received_total[1m])) by (account_id)") == {"kite_ticks_received_total"}


def test_bare_names_in_binary_expressions_are_found_and_numbers_keywords_and_bool_are_not() -> None:
    expr = "max(kite_gateway_lease_keys) - sum(kite_gateway_leases_held) > bool 0 and x unless y or 14.4 * 1e-3"
    assert metric_names(expr) == {"kite_gateway_lease_keys", "kite_gateway_leases_held", "x", "y"}


def test_recorded_names_with_colons_are_metric_names() -> None:
    assert metric_names("kite_gateway:ticker_down:ratio_avg1h > 14.4 * 0.001") == {
        "kite_gateway:ticker_down:ratio_avg1h"
    }


def test_a_selector_by_labels_alone_takes_its_name_from_the_name_matcher() -> None:
    assert selectors('{__name__="kite_ticker_up", account_id="AB1234"}') == [
        Selector("kite_ticker_up", (("account_id", "=", "AB1234"),))
    ]


def test_strings_given_to_functions_are_not_selectors() -> None:
    found = selectors('label_replace(kite_ticker_up, "who", "$1", "account_id", "(.*)")')
    assert found == [Selector("kite_ticker_up")]


def test_subqueries_and_at_modifiers_do_not_read_as_series() -> None:
    assert metric_names("max_over_time(rate(kite_ticker_reconnects_total[5m])[1h:1m] @ end())") == {
        "kite_ticker_reconnects_total"
    }


def test_a_misspelt_function_is_an_error_rather_than_a_metric_name() -> None:
    with pytest.raises(ValueError, match="unknown PromQL function rat"):
        selectors("rat(kite_ticker_up[5m])")


@pytest.mark.parametrize("expr", ['x{a="1"', 'x{a ~ "1"}', "x{a=b}", "sum(x", "x § 2"])
def test_unreadable_expressions_are_errors(expr: str) -> None:
    with pytest.raises(ValueError):
        selectors(expr)
