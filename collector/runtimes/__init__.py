"""Container metadata from the container runtimes: names, images, labels.

The runtime-specific half of container resolution (``collector.containers``
parses cgroup paths; this module asks runtimes about the ids found there).
``RuntimeClient.metadata(runtime, id)`` tries, in order, for each runtime:

- podman: the API socket (``/run/podman/podman.sock``, Docker-compatible
  ``GET /containers/ID/json``), then podman's BoltDB (``libpod/bolt_state.db``,
  read with ``collector.boltdb``: a millisecond, where the CLI takes ~100 ms),
  then ``podman container inspect`` run with a timeout, then
  containers-storage's ``containers.json`` (name and image, no labels);
- docker: ``/var/lib/docker/containers/ID/config.v2.json`` (written at create:
  known before the container runs), then the Engine API socket
  (``/var/run/docker.sock``);
- containerd: the OCI ``config.json`` of the task bundle under
  ``/run/containerd/io.containerd.runtime.v2.task/NS/ID``, whose CRI annotations
  name the container, image and pod, then containerd's own record (image and
  labels: what ``ctr run --label`` and nerdctl set) from its metadata BoltDB,
  else through ``ctr -n NS containers info ID`` run with a timeout.
  Containers of clients without a kubelet (``ctr``, nerdctl's cgroupfs driver)
  live in cgroup ``/NS/ID``; ``containerd_task`` recognises them by their
  task directory;
- cri-o: the OCI ``config.json`` in the container's ``userdata`` directory
  (annotations, including the ``io.kubernetes.cri-o.Labels`` JSON);
- runc: ``/run/runc/ID/state.json`` (labels = the bundle's annotations);
- kubernetes (cgroupfs driver, runtime unknown) and unknown: containerd, cri-o,
  docker, runc in that order, and the first that knows the id says the runtime.

Every lookup is bounded: sockets and the podman child process get ``timeout``
seconds each (at most two such calls per lookup), local files are small and
read with size caps. No error leaves ``metadata()``: a failing source is logged
once at debug level and the next one is tried; with none left the result is
empty ``Metadata`` (the caller keeps the id only). Names and labels are
untrusted data: they are bounded in size and never interpreted.
"""

from .client import RuntimeClient
from .diagnosis import RuntimeStatus, probe
from .metadata import Metadata

# the facade; the parsers (.parsers), the bounds and label cleaning (.metadata) and
# the socket and child-process transport (.transport) are imported from their modules
__all__ = ["Metadata", "RuntimeClient", "RuntimeStatus", "probe"]
