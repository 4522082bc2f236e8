"""Paper trading: the embedded Kite simulator, started beside the gateway, which then talks to it
exactly as it would to Kite (its KITE_API_ENDPOINT and KITE_WEBSOCKET_ENDPOINT point at it)."""

from __future__ import annotations

import structlog

from kite_gateway.config import Settings
from kite_gateway.simulator import Simulator, SimulatorConfig

log = structlog.get_logger(__name__)


async def start_simulator(settings: Settings) -> tuple[Simulator, Settings]:
    """Start the simulator on the configured loopback address; return it and the settings aimed at it."""
    host, _, port = settings.gateway_paper_listen.rpartition(":")
    simulator = Simulator(SimulatorConfig(host=host.strip("[]"), port=int(port), seed=settings.gateway_paper_seed))
    await simulator.start()
    log.info(
        "paper.simulator_started",
        api_endpoint=simulator.api_url,
        websocket_endpoint=simulator.ws_url,
        login_url=simulator.login_url(),
        api_key=simulator.app.api_key,
        users=sorted(simulator.sessions.users),
    )
    aimed = settings.model_copy(update={"api_endpoint": simulator.api_url, "websocket_endpoint": simulator.ws_url})
    return simulator, aimed
