"""Joining or starting a Ray cluster (the optional ``reelsearch[ray]`` extra), quietly and locally.

Ray is imported only here and only when asked for. A local cluster listens on the loopback
interface, with no dashboard and no usage statistics.
"""

from __future__ import annotations

import logging
import os
from types import ModuleType

from indexer.errors import ClusterError

log = logging.getLogger(__name__)

#: What to tell a user whose environment lacks Ray.
INSTALL_HINT = "distributed work needs Ray: pip install 'reelsearch[ray]'"
#: ``--ray`` without an address: start a local cluster on this machine.
LOCAL = "local"


def import_ray() -> ModuleType:
    """The ``ray`` module. Raises ClusterError (saying how to install it) when it is missing."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise ClusterError(INSTALL_HINT) from None
    return ray


def connect(address: str = LOCAL, *, num_cpus: int | None = None) -> ModuleType:
    """Connect to Ray: ``local`` starts a cluster on this machine (loopback only, ``num_cpus``
    CPUs, default all), ``auto`` joins the one ``ray start`` runs here, anything else is a
    cluster address (``HOST:PORT`` or ``ray://HOST:PORT``). A session already connected is reused.

    Raises: ClusterError (Ray missing, or the cluster cannot be reached).
    """
    ray = import_ray()
    if ray.is_initialized():
        return ray
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address == LOCAL:
            ray.init(num_cpus=num_cpus, _node_ip_address="127.0.0.1", **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = "the local cluster" if address == LOCAL else f"the Ray cluster at {address}"
        raise ClusterError(f"cannot connect to {where}: {exc}") from None
    log.info("Ray cluster resources: %s", ray.cluster_resources())
    return ray
