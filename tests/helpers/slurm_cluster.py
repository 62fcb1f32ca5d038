"""A real one-node SLURM cluster on this machine: Debian's munge and slurm-wlm, loopback only.

Everything lives in one folder: ``slurm.conf``, the munge key and socket, state, spool, logs, and
one pid file per daemon. Nothing under ``/etc`` is written or used as configuration: ``munged``
gets its own key and socket, the daemons get ``-f DIR/slurm.conf``, and the commands get
``SLURM_CONF`` from :meth:`SlurmCluster.environment`. The ports are free ones picked at start, so the cluster clashes
neither with a real SLURM installation nor with a second local cluster. The daemons need root
(``slurmd`` starts each job's tasks as the job's user).

By hand (``scripts/slurm-local-cluster`` runs this)::

    python -m tests.helpers.slurm_cluster start DIR    # prints `export SLURM_CONF=DIR/slurm.conf`
    python -m tests.helpers.slurm_cluster status DIR
    python -m tests.helpers.slurm_cluster stop DIR     # by the pid files in DIR
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("slurm-wlm", "munge")
"""The Debian packages that provide the daemons and the commands."""
DAEMONS = ("munged", "slurmctld", "slurmd")
"""Started in this order, stopped in the reverse one."""
COMMANDS = ("sbatch", "srun", "squeue", "scontrol", "sinfo", "scancel")
SBIN = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
STOP_TIMEOUT = 30.0
FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}
"""Job states after which a job does not run again."""


class ClusterUnavailable(RuntimeError):
    """This machine cannot run the cluster at all: the packages are missing and cannot be installed, or not root.

    Tests skip with its message; whatever goes wrong after that is a :class:`ClusterError`.
    """


class ClusterError(RuntimeError):
    """A daemon or command of the cluster failed; the message says what its log said."""


def _executable(name: str) -> str | None:
    """``name`` on ``PATH`` or in the sbin folders (``/usr/sbin`` is often not on a user's ``PATH``)."""
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))


def missing_executables() -> list[str]:
    """The daemons and commands this machine lacks.

    Returns:
        Their names; empty when the cluster can be started.
    """
    return [name for name in (*DAEMONS, *COMMANDS) if _executable(name) is None]


def ensure_installed(timeout: float = 600.0) -> None:
    """Install ``slurm-wlm`` and ``munge`` with apt-get when a daemon or command is missing.

    Args:
        timeout: Seconds allowed for the installation, a package index update included.

    Raises:
        ClusterUnavailable: When they are missing and cannot be installed (not root, no apt-get, or
            apt-get failed), saying why and what to run.
    """
    missing = missing_executables()
    if not missing:
        return
    wanted = f"{', '.join(missing)} (Debian packages {' '.join(PACKAGES)})"
    apt = shutil.which("apt-get")
    if apt is None:
        raise ClusterUnavailable(f"needs {wanted}, and this machine has no apt-get to install them with")
    if os.geteuid() != 0:
        raise ClusterUnavailable(f"needs {wanted}; install them as root: apt-get install -y {' '.join(PACKAGES)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    deadline = time.monotonic() + timeout

    def apt_get(command: list[str]) -> subprocess.CompletedProcess[str]:
        left = max(deadline - time.monotonic(), 1.0)
        try:
            return subprocess.run(command, capture_output=True, text=True, env=env, timeout=left, check=False)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(command, 124, "", f"timed out after {timeout:.0f} s")

    result = apt_get(install)
    if result.returncode != 0:  # a fresh machine may have no package index yet
        apt_get([apt, "update", "-q"])
        result = apt_get(install)
    if result.returncode != 0 or missing_executables():
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise ClusterUnavailable(f"needs {wanted}; `{shlex.join(install)}` failed: {' | '.join(tail)}")


def free_port() -> int:
    """A TCP port of the loopback interface that nothing listens on now.

    Returns:
        The port number.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _free_port_range(size: int = 40) -> tuple[int, int]:
    """A run of ports free now, for ``srun`` (``SrunPortRange``)."""
    for _ in range(50):
        first = secrets.randbelow(20000) + 40000
        try:
            with contextlib.ExitStack() as stack:
                for port in range(first, first + size):
                    stack.enter_context(socket.socket()).bind(("127.0.0.1", port))
        except OSError:
            continue
        return first, first + size - 1
    raise ClusterError(f"found no run of {size} free ports for SrunPortRange")


def _first_job_id(jobs: int = 20) -> int:
    """A random first job id whose next ``jobs`` ids leave Lightning's ports free.

    Lightning's ``SLURMEnvironment`` takes ``MASTER_PORT`` from the job id (15000 plus its last four
    digits); random ids keep two clusters on one machine (parallel test workers) from giving
    simultaneous jobs the same port.
    """
    for _ in range(50):
        first = secrets.randbelow(9000 - jobs) + 1000
        try:
            with contextlib.ExitStack() as stack:
                for job in range(first, first + jobs):
                    stack.enter_context(socket.socket()).bind(("127.0.0.1", 15000 + job % 10000))
        except OSError:
            continue
        return first
    raise ClusterError("found no free run of ports for Lightning's MASTER_PORT (15000 + job id)")


def node_name() -> str:
    """The node's name: the short host name, by which ``slurmd`` finds itself in ``slurm.conf``.

    Returns:
        What ``hostname -s`` prints.
    """
    return socket.gethostname().split(".")[0]


def resolves_to_loopback(name: str) -> bool:
    """Whether every address ``name`` resolves to is a loopback one.

    Lightning's ``SLURMEnvironment`` takes the job's first node name as ``MASTER_ADDR``; a job that
    must stay on loopback sets ``MASTER_ADDR=127.0.0.1`` itself when this is false.

    Args:
        name: A host name.

    Returns:
        True when it resolves, and only to loopback addresses.
    """
    try:
        infos = socket.getaddrinfo(name, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def slurm_conf(directory: Path, node: str, cpus: int) -> str:
    """The text of a one-node ``slurm.conf`` whose files all lie in ``directory``.

    Args:
        directory: The cluster folder.
        node: The node's name (see :func:`node_name`).
        cpus: CPUs the node offers to jobs (``config_overrides``: taken as given, even above the
            machine's).

    Returns:
        The configuration.
    """
    srun_ports = _free_port_range()
    settings = {
        "ClusterName": "litnn",
        "FirstJobId": _first_job_id(),
        "SlurmctldHost": f"{node}(127.0.0.1)",
        "SlurmctldPort": free_port(),
        "SlurmdPort": free_port(),
        "SrunPortRange": f"{srun_ports[0]}-{srun_ports[1]}",
        "SlurmUser": "root",
        "SlurmdUser": "root",
        "AuthType": "auth/munge",
        "CredType": "cred/munge",
        # Its own munged; cred_expire stays at SLURM's default (120 s), which is also how long a
        # requeued job waits before it may start again (its BeginTime).
        "AuthInfo": f"socket={directory / 'munge' / 'munge.socket'}",
        "StateSaveLocation": directory / "state",
        "SlurmdSpoolDir": directory / "spool",
        "SlurmctldPidFile": directory / "state" / "slurmctld.pid",
        "SlurmdPidFile": directory / "spool" / "slurmd.pid",
        "SlurmctldLogFile": directory / "log" / "slurmctld.log",
        "SlurmdLogFile": directory / "log" / "slurmd.log",
        "ProctrackType": "proctrack/linuxproc",  # no cgroups needed (containers, CI)
        "TaskPlugin": "task/none",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_CPU",
        "SlurmdParameters": "config_overrides",
        "ReturnToService": 2,  # the node is idle as soon as slurmd registers
        "MpiDefault": "none",
        "JobAcctGatherType": "jobacct_gather/none",
        "AccountingStorageType": "accounting_storage/none",
        "JobCompType": "jobcomp/none",
        "MailProg": "/bin/true",
        "KillWait": 5,  # seconds from SIGTERM to SIGKILL when a job is cancelled or requeued
        "MinJobAge": 600,  # `scontrol show job` still knows a finished job for 10 minutes
        "SchedulerParameters": "sched_interval=2",  # pending jobs are looked at every 2 s, not 60
        "SlurmctldDebug": "info",
        "SlurmdDebug": "info",
    }
    text = "".join(f"{key}={value}\n" for key, value in settings.items())
    text += f"NodeName={node} NodeAddr=127.0.0.1 NodeHostname={node} CPUs={cpus} State=UNKNOWN\n"
    text += f"PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP\n"
    return text


def is_running(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, which only waits to be reaped, counts as gone).

    Args:
        pid: The process id.

    Returns:
        True while it runs.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _is_daemon(pid: int, name: str, directory: Path) -> bool:
    """Whether ``pid`` is the daemon ``name`` started from ``directory`` (and not a reused pid)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return is_running(pid)  # no /proc: trust the pid file
    return Path(args[0].decode(errors="replace")).name == name and str(directory).encode() in b" ".join(args)


def cluster_processes(conf: Path) -> dict[int, str]:
    """Every process that belongs to the cluster of ``conf``: daemons, step daemons, job tasks.

    They all carry ``SLURM_CONF=<conf>`` in their environment (the daemons get it at start, and
    ``slurmstepd`` and the tasks inherit it).

    Args:
        conf: The cluster's ``slurm.conf``.

    Returns:
        Process id to command line, for the processes still running.
    """
    marker = f"SLURM_CONF={conf}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if is_running(int(entry.name)):
            found[int(entry.name)] = command[:160]
    return found


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} is missing)"


@dataclass
class SlurmCluster:
    """A cluster started from a folder: its node, and the process id of each daemon.

    Attributes:
        directory: The cluster folder.
        node: The node's name.
        pids: Daemon name to process id, in start order.
    """

    directory: Path
    node: str
    pids: dict[str, int] = field(default_factory=dict)
    _children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

    @property
    def conf(self) -> Path:
        """The ``slurm.conf`` the daemons read and ``SLURM_CONF`` names."""
        return self.directory / "slurm.conf"

    def environment(self, base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
        """An environment for the SLURM commands, and for the jobs they submit, which inherit it.

        Args:
            base: The environment to start from (default: this process's).
            **extra: Variables to add.

        Returns:
            ``base`` without ``SLURM_*`` variables (this process may itself run in a SLURM job), with
            ``SLURM_CONF``, the sbin folders at the end of ``PATH``, and ``extra``.
        """
        env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("SLURM_")}
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = os.pathsep.join(p for p in (env.get("PATH", ""), *SBIN) if p)
        env.update(extra)
        return env

    def run(
        self,
        *args: str,
        base: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        check: bool = True,
        timeout: float = 30.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run a SLURM command (``sinfo``, ``sbatch`` …) against this cluster.

        Args:
            *args: The command and its arguments.
            base: The environment to give it, before :meth:`environment` adds ``SLURM_CONF``
                (default: this process's); ``sbatch`` hands it on to the job.
            cwd: Its working folder (``sbatch``: the job's too).
            check: Raise when it fails.
            timeout: Seconds before giving up.

        Returns:
            The finished command, its output as text.

        Raises:
            ClusterError: If ``check`` and it exits with a non-zero status.
        """
        result = subprocess.run(list(args), capture_output=True, text=True, env=self.environment(base),
                                cwd=cwd, timeout=timeout, check=False)  # fmt: skip
        if check and result.returncode != 0:
            raise ClusterError(f"`{shlex.join(args)}` failed with status {result.returncode}: {result.stderr.strip()}")
        return result

    def node_state(self) -> str:
        """The node's state as ``sinfo`` reports it (``idle``, ``allocated``, ``down*`` …).

        Returns:
            The state, or ``""`` while ``sinfo`` cannot tell.
        """
        result = self.run("sinfo", "--noheader", "--nodes", self.node, "--format", "%T", check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    def wait_until_idle(self, timeout: float = 60.0) -> None:
        """Wait until the node accepts jobs.

        Args:
            timeout: Seconds to wait.

        Raises:
            ClusterError: If a daemon exits, or the node is not idle in time, with the logs' last lines.
        """
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = self.node_state()
            if state == "idle":
                return
            dead = [name for name, pid in self.pids.items() if not is_running(pid)]
            if dead:
                raise ClusterError(f"{', '.join(dead)} exited while the cluster started\n{self.logs()}")
            time.sleep(0.2)
        raise ClusterError(f"node {self.node} is {state or 'unknown'}, not idle, after {timeout:.0f} s\n{self.logs()}")

    def job(self, job_id: str) -> dict[str, str]:
        """``scontrol show job`` as a dictionary (``JobState``, ``Restarts``, ``EligibleTime`` …).

        Args:
            job_id: The job.

        Returns:
            Its fields.
        """
        text = self.run("scontrol", "show", "job", "--oneliner", job_id).stdout
        return dict(item.partition("=")[::2] for item in text.split())

    def wait_for_job(
        self, job_id: str, done: Callable[[dict[str, str]], bool], timeout: float, what: str
    ) -> dict[str, str]:
        """Poll ``scontrol show job`` until ``done`` holds.

        Args:
            job_id: The job.
            done: Condition on the job's fields.
            timeout: Seconds to wait.
            what: What is waited for, for the error.

        Returns:
            The job's fields once ``done`` holds.

        Raises:
            ClusterError: On timeout, with the job's state and the daemons' logs.
        """
        deadline = time.monotonic() + timeout
        while True:
            fields = self.job(job_id)
            if done(fields):
                return fields
            if time.monotonic() > deadline:
                state = " ".join(f"{k}={fields.get(k)}" for k in ("JobState", "Reason", "Restarts", "EligibleTime"))
                raise ClusterError(f"job {job_id}: no {what} after {timeout:.0f} s ({state})\n{self.logs()}")
            time.sleep(0.2)

    def jobs(self) -> list[str]:
        """The jobs the cluster still holds, pending or running.

        Returns:
            Their ids.
        """
        return self.run("squeue", "--noheader", "--format", "%i", check=False).stdout.split()

    def cancel_all_jobs(self, timeout: float = STOP_TIMEOUT) -> list[str]:
        """Cancel every job and wait until none is left (their tasks gone).

        Args:
            timeout: Seconds to wait.

        Returns:
            The jobs still there after ``timeout``.
        """
        jobs = self.jobs()
        if jobs:
            self.run("scancel", *jobs, check=False)
        deadline = time.monotonic() + timeout
        while jobs and time.monotonic() < deadline:
            time.sleep(0.2)
            jobs = self.jobs()
        return jobs

    def logs(self) -> str:
        """The last lines of each daemon's log.

        Returns:
            One block per log file.
        """
        return "\n".join(f"--- {path}\n{_tail(path)}" for path in sorted((self.directory / "log").glob("*")))

    def stop(self) -> list[str]:
        """Cancel the jobs, stop every daemon this cluster started, by process id, and wait for each.

        Daemons get SIGTERM, and SIGKILL after 30 s; processes of jobs still left afterwards (see
        :func:`cluster_processes`) get SIGKILL, so nothing outlives the cluster either way.

        Returns:
            What did not go in that orderly way, one line each; empty when everything did.
        """
        problems = []
        if "slurmctld" in self.pids and is_running(self.pids["slurmctld"]):
            try:
                stuck = self.cancel_all_jobs()
            except (ClusterError, subprocess.TimeoutExpired, OSError) as exc:
                stuck = [f"({exc})"]
            if stuck:
                problems.append(f"jobs {' '.join(stuck)} were still there {STOP_TIMEOUT:.0f} s after scancel")
        for name in reversed(list(self.pids)):
            pid = self.pids[name]
            if not (is_running(pid) and _is_daemon(pid, name, self.directory)):
                continue
            if not _terminate(pid, self._children.get(name), signal.SIGTERM, STOP_TIMEOUT):
                problems.append(f"{name} (pid {pid}) ignored SIGTERM for {STOP_TIMEOUT:.0f} s: killed")
                _terminate(pid, self._children.get(name), signal.SIGKILL, STOP_TIMEOUT)
        deadline = time.monotonic() + 5  # slurmctld's helper (slurmscriptd) goes with it
        while (left := cluster_processes(self.conf)) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid, command in left.items():
            problems.append(f"pid {pid} ({command}) was left running: killed")
            _terminate(pid, None, signal.SIGKILL, STOP_TIMEOUT)
        for name in DAEMONS:
            with contextlib.suppress(OSError):
                (self.directory / f"{name}.pid").unlink()
        return problems


def _terminate(pid: int, child: subprocess.Popen[bytes] | None, signum: int, timeout: float) -> bool:
    """Send ``signum`` to ``pid`` and wait until it is gone (reaping it when it is our child)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and child.poll() is not None or not is_running(pid):
            return True
        time.sleep(0.05)
    return False


def _read_pids(directory: Path) -> dict[str, int]:
    pids = {}
    for name in DAEMONS:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pids[name] = int((directory / f"{name}.pid").read_text().split()[0])
    return pids


def start(directory: Path, cpus: int | None = None, timeout: float = 60.0) -> SlurmCluster:
    """Install what is missing, configure a one-node cluster in ``directory`` and start its daemons.

    The daemons run in the foreground (``-D``; munged ``--foreground``) in a session of their own,
    so they outlive the process that started them (for the script), and are stopped by process id:
    :meth:`SlurmCluster.stop`, or :func:`stop` through ``DIR/<daemon>.pid``.

    Args:
        directory: The cluster folder (created; files of an earlier cluster in it are replaced).
        cpus: CPUs the node offers (default: this machine's, at least 2).
        timeout: Seconds to wait for each daemon, and for the node to become idle.

    Returns:
        The cluster, its node idle.

    Raises:
        ClusterUnavailable: If this machine cannot run it (see :func:`ensure_installed`; the daemons
            need root).
        ClusterError: If a cluster already runs from ``directory``, or a daemon fails to start
            (every daemon already started is stopped again first).
    """
    ensure_installed()
    if os.geteuid() != 0:
        raise ClusterUnavailable("needs root: slurmd starts each job's tasks as the job's user")
    directory = Path(directory).resolve()
    running = [
        pid for name, pid in _read_pids(directory).items() if is_running(pid) and _is_daemon(pid, name, directory)
    ]
    if running:
        raise ClusterError(f"a cluster already runs from {directory} (pids {running}); stop it first")
    for sub in ("state", "spool", "log", "munge", "munge/key"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    for sub, mode in ((".", 0o755), ("munge", 0o755), ("munge/key", 0o700)):
        (directory / sub).chmod(mode)  # munged refuses a key or socket folder others may write into
    key = directory / "munge" / "key" / "munge.key"
    if not key.exists():
        key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o400)
    cluster = SlurmCluster(directory=directory, node=node_name())
    cluster.conf.write_text(slurm_conf(directory, cluster.node, cpus or max(os.cpu_count() or 1, 2)))
    munge = directory / "munge"
    commands = {
        "munged": [_executable("munged"), "--foreground", "--force", f"--socket={munge / 'munge.socket'}",
                   f"--key-file={key}", f"--pid-file={munge / 'munged.pid'}", f"--seed-file={munge / 'munged.seed'}",
                   f"--log-file={directory / 'log' / 'munged.log'}"],
        "slurmctld": [_executable("slurmctld"), "-D", "-i", "-f", str(cluster.conf)],  # -i: no old state
        "slurmd": [_executable("slurmd"), "-D", "-f", str(cluster.conf)],
    }  # fmt: skip
    try:
        for name, command in commands.items():
            with (directory / "log" / f"{name}.out").open("ab") as out:
                child = subprocess.Popen([str(c) for c in command], stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, env=cluster.environment(), cwd=directory,
                                         start_new_session=True)  # fmt: skip
            cluster.pids[name], cluster._children[name] = child.pid, child
            (directory / f"{name}.pid").write_text(f"{child.pid}\n")
            if name == "munged":
                _wait_for_socket(munge / "munge.socket", child, directory, timeout)
        cluster.wait_until_idle(timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _wait_for_socket(path: Path, child: subprocess.Popen[bytes], directory: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if child.poll() is not None:
            raise ClusterError(
                f"munged exited with status {child.returncode}:\n{_tail(directory / 'log' / 'munged.out')}"
            )
        if time.monotonic() > deadline:
            raise ClusterError(f"munged did not create {path} within {timeout:.0f} s")
        time.sleep(0.05)


def stop(directory: Path) -> list[str]:
    """Stop the cluster that another process started from ``directory``, through its pid files.

    Args:
        directory: The cluster folder.

    Returns:
        What did not go in the orderly way (see :meth:`SlurmCluster.stop`).
    """
    directory = Path(directory).resolve()
    return SlurmCluster(directory=directory, node=node_name(), pids=_read_pids(directory)).stop()


def main(argv: Sequence[str] | None = None) -> int:
    """``start DIR``, ``status DIR`` or ``stop DIR``, for a person trying the cluster path by hand.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(
        prog="slurm-local-cluster",
        description="A one-node SLURM cluster on this machine, loopback only (run as root; Debian or Ubuntu).",
    )
    parser.add_argument("action", choices=["start", "status", "stop"])
    parser.add_argument("directory", type=Path, help="folder for its configuration, state, logs and pid files")
    args = parser.parse_args(argv)
    directory = args.directory.resolve()
    if args.action == "start":
        try:
            cluster = start(directory)
        except (ClusterUnavailable, ClusterError) as exc:
            print(f"slurm-local-cluster: {exc}", file=sys.stderr)
            return 1
        pids = ", ".join(f"{name} {pid}" for name, pid in cluster.pids.items())
        lit_nn = Path(sys.executable).with_name("lit-nn")
        extra = "" if resolves_to_loopback(cluster.node) else " MASTER_ADDR=127.0.0.1"
        print(f"SLURM cluster up: node {cluster.node} idle ({pids}); logs in {directory / 'log'}")
        print("Point the SLURM commands at it, then submit the training script from the repository root:")
        print(f"  export SLURM_CONF={shlex.quote(str(cluster.conf))}")
        print(f"  LIT_NN={shlex.quote(str(lit_nn))} ACCELERATOR=cpu GLOO_SOCKET_IFNAME=lo{extra} \\")
        print("      sbatch docker/slurm/train.sbatch --trainer.max_epochs 5 --trainer.enable_progress_bar false")
        print("  squeue; tail -f lit-nn-<job id>.out")
        print(f"Stop it: scripts/slurm-local-cluster stop {shlex.quote(str(directory))}")
        return 0
    if args.action == "status":
        pids = {name: pid for name, pid in _read_pids(directory).items() if is_running(pid)}
        print(", ".join(f"{name} {pid}" for name, pid in pids.items()) or f"no cluster runs from {directory}")
        return 0 if pids else 1
    if not _read_pids(directory):
        print(f"slurm-local-cluster: no pid files in {directory}: nothing to stop", file=sys.stderr)
        return 1
    problems = stop(directory)
    for problem in problems:
        print(f"slurm-local-cluster: {problem}", file=sys.stderr)
    print(f"SLURM cluster of {directory} stopped")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
