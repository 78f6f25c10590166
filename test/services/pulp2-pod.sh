#!/usr/bin/env bash
# Runs CMD with a container's private view of the two paths Pulp 2 hard-codes, without
# touching the machine's: /etc/pulp (pulp.server.config reads /etc/pulp/server.conf) and
# /usr/lib/pulp/plugins with its types/ dir (pulp.plugins.loader.api). Must run in a new mount
# namespace (`unshare --mount`, or --pid --fork --mount-proc, which implies it), as root:
#
#   unshare --pid --fork --mount-proc --uts --kill-child bash test/services/pulp2-pod.sh VIEW HOST CMD...
#
# VIEW/etc is overlaid on /etc and VIEW/lib on /usr/lib (overlayfs: everything else there
# stays as on the machine, a write lands in VIEW). Put the pod's server.conf in
# VIEW/etc/pulp/server.conf before; what the agent writes is read back from the same place.
# HOST becomes the host name (with --uts), as a pod's name is its container's: Pulp names its
# scheduler and its agents after it.
set -euo pipefail
view=${1:?usage: pulp2-pod.sh VIEW HOST CMD...}
host=${2:?usage: pulp2-pod.sh VIEW HOST CMD...}
shift 2
[[ -f "$view/etc/pulp/server.conf" ]] || { echo "pulp2-pod: no $view/etc/pulp/server.conf" >&2; exit 66; }
mkdir -p "$view/etc.work" "$view/lib/pulp/plugins/types" "$view/lib.work"
mount -t overlay pulp2-etc -o "lowerdir=/etc,upperdir=$view/etc,workdir=$view/etc.work" /etc
mount -t overlay pulp2-lib -o "lowerdir=/usr/lib,upperdir=$view/lib,workdir=$view/lib.work" /usr/lib
[[ $host == - ]] || hostname "$host"
exec "$@"
