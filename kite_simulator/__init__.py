"""A local Kite Connect v3 simulator: REST, login, binary WebSocket ticker, matching engine.

It is the gateway's paper-trading backend (`kite-gateway serve --paper`), a standalone server
(`kite-gateway sim`), and the fixture of the test suite. Its fidelity is judged by the official
`kiteconnect` client: whatever it sends, that client parses.
"""

from kite_simulator.app import DemoUser, Simulator, SimulatorConfig
from kite_simulator.faults import Fault
from kite_simulator.ratelimit import OrderLimits
from kite_simulator.snapshot import SimulatorStateError
from kite_simulator.state_file import set_aside_state
from kite_simulator.threaded import ThreadedSimulator

__all__ = [
    "DemoUser",
    "Fault",
    "OrderLimits",
    "Simulator",
    "SimulatorConfig",
    "SimulatorStateError",
    "ThreadedSimulator",
    "set_aside_state",
]
