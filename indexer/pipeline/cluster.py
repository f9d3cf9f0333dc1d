"""Joining or starting a Ray cluster (the optional ``reelsearch[ray]`` extra), quietly and locally.

Ray is imported only here and only when asked for. A local cluster listens on the loopback
interface, with no dashboard and no usage statistics, and with Ray's token authentication (its
default) without Ray's warning that it is on.
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
#: Ray's logger that announces token authentication on every local start.
_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"


class _AuthOnNotice(logging.Filter):
    """Drops Ray's "Token authentication is enabled for this Ray cluster" warning: news to
    whoever runs a cluster, not to someone indexing on a loopback-only one. Its warning that
    authentication is *disabled* still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Token authentication is enabled")


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
    auth_log = logging.getLogger(_AUTH_LOGGER)
    if not any(isinstance(f, _AuthOnNotice) for f in auth_log.filters):
        auth_log.addFilter(_AuthOnNotice())
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
