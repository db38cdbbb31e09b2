"""A real Kubernetes node on this machine, beside a local control plane (the node tier).

Made of the parts a kind node holds, run directly as processes instead of inside a container:
containerd and runc (Debian's), kubelet, kube-proxy, kube-controller-manager and kube-scheduler
(built from the pinned `k8s.io/kubernetes` module), the CNI bridge plugins (Debian's), CoreDNS
(built from its Go module with the plugins it needs, `localcluster/coredns-build`, run as a pod)
and a pause image built from `localcluster/kubernetes-components/pause`. Images reach containerd
from the local Docker engine (`docker save | ctr images import`).

Everything lives on addresses this node creates: the bridge `shortlink0` with the node address
10.244.0.1 (the API server listens there, so that pods reach it through the `kubernetes` Service),
pods in 10.244.0.0/24 and Services in 10.96.0.0/16. A machine runs one such node at a time (a lock
file), since kube-proxy's iptables chains and the kubelet's port are machine-wide. Every component
authenticates as the control plane's admin: this is a test node, not a hardened one.
"""

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

import yaml

from shortlink_localcluster.build import (
    ensure_component,
    ensure_coredns,
    ensure_go_install,
    ensure_pause,
)
from shortlink_localcluster.controlplane import SERVICE_CLUSTER_IP_RANGE, ControlPlane, free_port
from shortlink_localcluster.processes import Process, wait_until
from shortlink_localcluster.stack import kubectl_binary
from shortlink_localcluster.tools import default_cache_dir

NODE_NAME: Final = "shortlink-node"
BRIDGE: Final = "shortlink0"
NODE_IP: Final = "10.244.0.1"
POD_SUBNET: Final = "10.244.0.0/24"
CLUSTER_CIDR: Final = "10.244.0.0/16"
DNS_IP: Final = "10.96.0.10"
CLUSTER_DOMAIN: Final = "cluster.local"
PAUSE_IMAGE: Final = "shortlink-pause:v1"
COREDNS_IMAGE: Final = "shortlink-coredns:v1.15.0"  # localcluster/coredns-build's pin
CRICTL_VERSION: Final = "v1.37.0"
FORWARD_CHAIN: Final = "SHORTLINK-NODE-FORWARD"
LOCK_FILE: Final = Path("/run/lock/shortlink-node.lock")
READY_TIMEOUT: Final = 180.0

assert SERVICE_CLUSTER_IP_RANGE.startswith("10.96."), "DNS_IP must be in the Service range"


class NodeError(RuntimeError):
    pass


def node_control_plane(workdir: Path, kube_apiserver: Path) -> ControlPlane:
    """A control plane whose API server listens on the node address, for pods to reach."""
    return ControlPlane(
        workdir=workdir, kube_apiserver=kube_apiserver, address=NODE_IP, publish_endpoint=True
    )


def check_host() -> None:
    """Fail with what is missing when this machine cannot run the node."""
    if os.geteuid() != 0:
        raise NodeError("the node tier runs containers and changes iptables: it needs root")
    missing = [
        tool
        for tool in ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "ip")
        if shutil.which(tool) is None
    ]
    if not Path("/usr/lib/cni/bridge").exists():
        missing.append("/usr/lib/cni/bridge")
    if missing:
        raise NodeError(
            f"missing {', '.join(missing)}: hack/install-system-deps.sh node installs them"
        )


def create_network() -> None:
    """The node's bridge with the node address (before the API server, which listens on it)."""
    if _run(["ip", "link", "show", BRIDGE], check=False).returncode != 0:
        _run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    addresses = _run(["ip", "-o", "addr", "show", "dev", BRIDGE]).stdout
    if f" {NODE_IP}/" not in addresses:
        _run(["ip", "addr", "add", f"{NODE_IP}/24", "dev", BRIDGE])
    _run(["ip", "link", "set", BRIDGE, "up"])
    # Service traffic between pods on the bridge must pass iptables (kube-proxy's rules).
    Path("/proc/sys/net/bridge/bridge-nf-call-iptables").write_text("1\n")
    Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")
    # Forwarding between pods (directly or through a Service) is allowed even where the FORWARD
    # policy drops (Docker sets it so); forwarding from a pod to anywhere else is not.
    _delete_forward_chain()
    _run(["iptables", "-N", FORWARD_CHAIN])
    _run(["iptables", "-A", FORWARD_CHAIN, "-s", CLUSTER_CIDR, "-d", CLUSTER_CIDR, "-j", "ACCEPT"])
    _run(["iptables", "-A", FORWARD_CHAIN, "-s", CLUSTER_CIDR, "-j", "DROP"])
    _run(["iptables", "-I", "FORWARD", "1", "-j", FORWARD_CHAIN])


def delete_network() -> None:
    _delete_forward_chain()
    _run(["ip", "link", "del", BRIDGE], check=False)


def _delete_forward_chain() -> None:
    while _run(["iptables", "-D", "FORWARD", "-j", FORWARD_CHAIN], check=False).returncode == 0:
        pass
    _run(["iptables", "-F", FORWARD_CHAIN], check=False)
    _run(["iptables", "-X", FORWARD_CHAIN], check=False)


@dataclass
class Node:
    """containerd, kubelet, kube-proxy, kube-controller-manager and kube-scheduler for `plane`."""

    workdir: Path
    cache: Path
    plane: ControlPlane
    images: tuple[str, ...] = ()
    _processes: dict[str, Process] = field(default_factory=dict)
    _lock: IO[str] | None = None

    @property
    def containerd_socket(self) -> Path:
        return self.workdir / "containerd" / "containerd.sock"

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    def start(self) -> None:
        binaries = build_binaries(self.cache)
        self._crictl = binaries["crictl"]
        self._build_system_images()
        self._start_containerd()
        self._import_images((PAUSE_IMAGE, COREDNS_IMAGE, *self.images))
        kubeconfig = str(self.plane.kubeconfig)
        self._spawn(
            "kube-controller-manager",
            binaries["kube-controller-manager"],
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            "--leader-elect=false",
            "--use-service-account-credentials=false",
            f"--root-ca-file={self.plane.serving_ca}",
            f"--service-account-private-key-file={self.plane.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--cluster-name=shortlink-node",
        )
        self._spawn(
            "kube-scheduler",
            binaries["kube-scheduler"],
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            "--leader-elect=false",
        )
        self._spawn(
            "kubelet",
            binaries["kubelet"],
            f"--config={self._write_kubelet_config()}",
            f"--kubeconfig={kubeconfig}",
            f"--root-dir={self.workdir / 'kubelet'}",
            f"--cert-dir={self.workdir / 'kubelet-pki'}",
            f"--hostname-override={NODE_NAME}",
            f"--node-ip={NODE_IP}",
        )
        self._spawn(
            "kube-proxy",
            binaries["kube-proxy"],
            f"--kubeconfig={kubeconfig}",
            f"--hostname-override={NODE_NAME}",
            "--proxy-mode=iptables",
            f"--cluster-cidr={CLUSTER_CIDR}",
            f"--healthz-bind-address=127.0.0.1:{free_port()}",
            f"--metrics-bind-address=127.0.0.1:{free_port()}",
            "--conntrack-max-per-core=0",
        )
        self._kube_proxy = binaries["kube-proxy"]
        wait_until(
            self._node_ready,
            timeout=READY_TIMEOUT,
            what=f"node {NODE_NAME} Ready",
            interval=1.0,
            alive=list(self._processes.values()),
        )
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(coredns_objects()))
        self.kubectl(
            "-n",
            "kube-system",
            "rollout",
            "status",
            "deployment/coredns",
            f"--timeout={int(READY_TIMEOUT)}s",
        )

    def stop(self) -> None:
        """Stop every process and remove every pod, mount and rule the node made."""
        for name in ("kubelet", "kube-scheduler", "kube-controller-manager", "kube-proxy"):
            process = self._processes.pop(name, None)
            if process is not None:
                process.stop()
        if "containerd" in self._processes:
            # With the kubelet gone, remove the pods through the CRI: it stops their containers
            # and tears their networks down.
            self._crictl_run("rmp", "--all", "--force")
            self._processes.pop("containerd").stop()
        self._kill_leftover_shims()
        if hasattr(self, "_kube_proxy"):
            _run([str(self._kube_proxy), "--cleanup"], check=False)
        _remove_kube_chains()
        _unmount_under(self.workdir)
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [kubectl_binary(), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.plane.env(),
            check=False,
        )
        if result.returncode != 0:
            raise NodeError(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def logs_tail(self, lines: int = 40) -> dict[str, str]:
        return {name: process.log_tail(lines) for name, process in self._processes.items()}

    def lock(self) -> None:
        """Hold the machine-wide node lock (waits while another node tier runs)."""
        LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
        self._lock = LOCK_FILE.open("w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)

    # -- containerd and images ---------------------------------------------------------------

    def _start_containerd(self) -> None:
        root = self.workdir / "containerd"
        cni = root / "cni"
        cni.mkdir(parents=True, exist_ok=True)
        (cni / "10-shortlink.conflist").write_text(json.dumps(cni_config(root / "ipam")))
        config = root / "config.toml"
        config.write_text(containerd_config(root, cni))
        self._spawn(
            "containerd", Path(shutil.which("containerd") or "containerd"), "-c", str(config)
        )
        wait_until(
            lambda: self._ctr(["version"], check=False).returncode == 0,
            timeout=30,
            what="containerd",
            interval=0.2,
            alive=[self._processes["containerd"]],
        )

    def _build_system_images(self) -> None:
        """pause and CoreDNS as single-binary images in the local Docker engine (made anew each
        time, in a second, so they always hold the binaries just built)."""
        pause = ensure_pause(self.cache)
        coredns = ensure_coredns(self.cache)
        for image, binary in ((PAUSE_IMAGE, pause), (COREDNS_IMAGE, coredns)):
            entry = "/" + image.split(":")[0].removeprefix("shortlink-")
            with tempfile.TemporaryFile() as archive:
                with tarfile.open(fileobj=archive, mode="w") as tar:
                    info = tar.gettarinfo(str(binary), arcname=entry)
                    info.mode, info.uid, info.gid = 0o755, 0, 0
                    with binary.open("rb") as data:
                        tar.addfile(info, data)
                archive.seek(0)
                subprocess.run(
                    [
                        "docker",
                        "import",
                        "--change",
                        f'ENTRYPOINT ["{entry}"]',
                        "--change",
                        "USER 65532:65532",
                        "-",
                        image,
                    ],
                    stdin=archive,
                    check=True,
                    capture_output=True,
                )

    def _import_images(self, images: tuple[str, ...]) -> None:
        save = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
        assert save.stdout is not None
        try:
            self._ctr(["images", "import", "--no-unpack", "-"], stdin=save.stdout)
        finally:
            save.stdout.close()
            if save.wait() != 0:
                raise NodeError(f"docker save {' '.join(images)} failed")

    def _ctr(
        self, args: list[str], *, check: bool = True, stdin: IO[bytes] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run(
            ["ctr", "--address", str(self.containerd_socket), "--namespace", "k8s.io", *args],
            stdin=stdin,
            capture_output=True,
            check=False,
        )
        if check and result.returncode != 0:
            raise NodeError(f"ctr {' '.join(args)} failed: {result.stderr.decode()}")
        return result

    def _crictl_run(self, *args: str) -> None:
        with (self.logs / "crictl.log").open("ab") as log:
            subprocess.run(
                [
                    str(self._crictl),
                    "--runtime-endpoint",
                    f"unix://{self.containerd_socket}",
                    *args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
                timeout=120,
            )

    def _kill_leftover_shims(self) -> None:
        """The runc shims this node's containerd started (they outlive containerd by design)."""
        address = str(self.containerd_socket).encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
                if cmdline[0].endswith(b"containerd-shim-runc-v2") and address in cmdline:
                    os.kill(int(proc.name), 9)

    # -- kubelet ------------------------------------------------------------------------------

    def _write_kubelet_config(self) -> Path:
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            # This machine (like many CI machines) has cgroup v1, which kubelet 1.36 still runs
            # on when told to.
            "failCgroupV1": False,
            "cgroupDriver": "cgroupfs",
            "failSwapOn": False,
            "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
            "address": NODE_IP,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": free_port(),
            # The API server reaches the kubelet (logs, exec) without a client certificate; the
            # kubelet listens only on the node's own bridge address.
            "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
            "authorization": {"mode": "AlwaysAllow"},
            "clusterDNS": [DNS_IP],
            "clusterDomain": CLUSTER_DOMAIN,
            "resolvConf": str(self._write_resolv_conf()),
            "podLogsDir": str(self.workdir / "pod-logs"),
            "serializeImagePulls": False,
            # Never evict for disk: this node shares its disk with the machine.
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
            },
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
        }
        path = self.workdir / "kubelet-config.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config))
        return path

    def _write_resolv_conf(self) -> Path:
        """No upstream resolver for pods: names outside the cluster do not resolve."""
        path = self.workdir / "resolv.conf"
        path.write_text("")
        return path

    def _node_ready(self) -> bool:
        with contextlib.suppress(NodeError):
            node = json.loads(self.kubectl("get", "node", NODE_NAME, "-o", "json"))
            return any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in node.get("status", {}).get("conditions", [])
            )
        return False

    def _spawn(self, name: str, binary: Path, *args: str) -> None:
        self._processes[name] = Process(
            name, [str(binary), *args], log_path=self.logs / f"{name}.log"
        )


_NODE_COMPONENTS: Final = ("kubelet", "kube-controller-manager", "kube-scheduler", "kube-proxy")


def build_binaries(cache: Path) -> dict[str, Path]:
    """Build (once, cached) every program the node runs; `make node-deps` calls this."""
    binaries = {name: ensure_component(cache, name) for name in _NODE_COMPONENTS}
    binaries["crictl"] = ensure_go_install(
        cache, "sigs.k8s.io/cri-tools/cmd/crictl", CRICTL_VERSION
    )
    binaries["pause"] = ensure_pause(cache)
    binaries["coredns"] = ensure_coredns(cache)
    return binaries


def cni_config(ipam_dir: Path) -> dict[str, object]:
    """One bridge network; pods get 10.244.0.0/24 and route through the node address."""
    return {
        "cniVersion": "1.0.0",
        "name": "shortlink-node",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                # Pods talk to this node only: no masquerading out of it.
                "ipMasq": False,
                # A pod reaching itself through its Service.
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_SUBNET, "gateway": NODE_IP}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(ipam_dir),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def containerd_config(root: Path, cni: Path) -> str:
    """A containerd of its own (root, state, socket), beside any other on the machine."""
    return f"""version = 2
root = "{root / "root"}"
state = "{root / "state"}"

[grpc]
  address = "{root / "containerd.sock"}"

[ttrpc]
  address = "{root / "containerd.sock.ttrpc"}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  enable_selinux = false
  # Pods ask for a negative oom_score_adj (the sandbox's -998), which needs CAP_SYS_RESOURCE:
  # sandboxed machines (like our CI's) may drop it. Keep every score at or above containerd's own.
  restrict_oom_score_adj = true

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{cni}"
"""


def coredns_objects() -> list[dict[str, object]]:
    """CoreDNS in kube-system, answering for cluster.local on the Service address 10.96.0.10."""
    labels = {"k8s-app": "kube-dns"}
    corefile = f""".:1053 {{
    errors
    ready :8181
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 30
}}
"""
    meta = {"name": "coredns", "namespace": "kube-system"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "shortlink-node:coredns"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["services", "pods", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "shortlink-node:coredns"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "shortlink-node:coredns",
            },
            "subjects": [{"kind": "ServiceAccount", **meta}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta,
            "data": {"Corefile": corefile},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": "coredns",
                        "dnsPolicy": "Default",
                        "securityContext": {"runAsNonRoot": True, "runAsUser": 65532},
                        "containers": [
                            {
                                "name": "coredns",
                                "image": COREDNS_IMAGE,
                                "imagePullPolicy": "Never",
                                "args": ["-conf", "/etc/coredns/Corefile"],
                                "ports": [
                                    {"name": "dns", "containerPort": 1053, "protocol": "UDP"},
                                    {"name": "dns-tcp", "containerPort": 1053, "protocol": "TCP"},
                                ],
                                "readinessProbe": {
                                    "httpGet": {"path": "/ready", "port": 8181},
                                    "periodSeconds": 2,
                                },
                                "securityContext": {
                                    "allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]},
                                },
                                "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns"}],
                            }
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {**meta, "name": "kube-dns", "labels": labels},
            "spec": {
                "clusterIP": DNS_IP,
                "selector": labels,
                "ports": [
                    {"name": "dns", "port": 53, "targetPort": 1053, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 53, "targetPort": 1053, "protocol": "TCP"},
                ],
            },
        },
    ]


def _run(argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise NodeError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    return result


def _remove_kube_chains() -> None:
    """The iptables chains the kubelet made (KUBE-FIREWALL, canaries), which it never removes."""
    for tool in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle"):
            listing = _run([tool, "-t", table, "-S"], check=False).stdout.splitlines()
            for rule in listing:
                words = rule.split()
                if words[:1] == ["-A"] and not words[1].startswith("KUBE-") and "KUBE-" in rule:
                    _run([tool, "-t", table, "-D", *words[1:]], check=False)
            chains = [r.split()[1] for r in listing if r.startswith("-N KUBE-")]
            for chain in chains:
                _run([tool, "-t", table, "-F", chain], check=False)
            for chain in chains:
                _run([tool, "-t", table, "-X", chain], check=False)


def _unmount_under(directory: Path) -> None:
    """Lazily unmount what the kubelet and containerd left mounted below `directory`."""
    prefix = str(directory.resolve()) + "/"
    mounts = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(prefix)
    ]
    for mount in sorted(mounts, key=len, reverse=True):
        _run(["umount", "--lazy", mount], check=False)


if __name__ == "__main__":
    for name, path in build_binaries(default_cache_dir()).items():
        print(f"{name}: {path}")
