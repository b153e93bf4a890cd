"""The lab's Kubernetes: one real single-node cluster on this machine, built from Go modules
(scripts/build-cluster) and Debian's containerd, runc and CNI plugins.

    python -m labcluster up        start it (or reuse a healthy one); prints KUBECONFIG's path
    python -m labcluster status    which components run, node and DNS readiness
    python -m labcluster down      stop everything and leave nothing behind
    python -m labcluster env       `export KUBECONFIG=...; export PATH=...` for a shell

Everything it creates lives below one state directory (layout.Layout) or carries the names in
layout.py (bridges, nft table, CNI network); `down` removes all of it and restores the kernel
settings that the bring-up changed.
"""

from .errors import ClusterError
from .layout import Layout

__all__ = ["ClusterError", "Layout"]
