"""The API registry refuses a module whose declarations are missing or wrong, at import."""

from types import ModuleType

import pytest

from hpbroker.broker.routes import CONTROLLER, GROUP, PARTITIONED, Route, Split
from hpbroker.handlers import REGISTRY, RegistryError, build_registry


def _module(name="hpbroker.handlers.example", **declared):
    m = ModuleType(name)
    defaults = {
        "API_KEY": 19,
        "MIN_VERSION": 0,
        "MAX_VERSION": 4,
        "ROUTE": Route(CONTROLLER),
        "handle": lambda ctx, request: {},
    }
    for k, v in {**defaults, **declared}.items():
        if v is not None:
            setattr(m, k, v)
    return m


def test_a_complete_module_registers():
    assert build_registry([_module()])[19].API_KEY == 19


@pytest.mark.parametrize("missing", ["API_KEY", "MIN_VERSION", "MAX_VERSION", "ROUTE", "handle"])
def test_a_module_without_a_declaration_is_refused(missing):
    with pytest.raises(RegistryError, match=f"does not declare {missing}"):
        build_registry([_module(**{missing: None})])


def test_a_route_that_is_not_a_route_is_refused():
    with pytest.raises(RegistryError, match="not a Route"):
        build_registry([_module(ROUTE="controller")])


def test_versions_the_protocol_cannot_decode_are_refused():
    with pytest.raises(RegistryError, match="not all decodable"):
        build_registry([_module(MAX_VERSION=99)])
    with pytest.raises(RegistryError, match="not all decodable"):
        build_registry([_module(API_KEY=9999)])


def test_two_modules_of_one_api_key_are_refused():
    with pytest.raises(RegistryError, match="both declare api key 19"):
        build_registry([_module(), _module("hpbroker.handlers.other")])


def test_routes_name_what_their_kind_needs():
    with pytest.raises(ValueError):
        Route(PARTITIONED)  # which fields hold the partitions?
    with pytest.raises(ValueError):
        Route(GROUP)  # which field holds the group id?
    with pytest.raises(ValueError):
        Route(CONTROLLER, split=Split("a", "b", "c", "d", "e", "f", "g"))
    with pytest.raises(ValueError):
        Route("somewhere")


def test_every_api_module_declares_a_route():
    assert all(isinstance(m.ROUTE, Route) for m in REGISTRY.values())
