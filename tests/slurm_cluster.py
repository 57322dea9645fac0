"""A throwaway one-node SLURM cluster on localhost, for testing the workflow's SLURM profile.

Why a real cluster: the executor plugin's behaviour (sbatch flags, account checks, status polling
through sacct) only shows against real daemons, and the classic trap — sacct without accounting
fails silently and snakemake waits forever — is invisible to mocks. So this harness starts what a
real site runs, with accounting: munged, MariaDB, slurmdbd, slurmctld and slurmd, each as a child
process whose PID it keeps, on free TCP ports, with every config, socket, database and log inside
one temporary directory (nothing under /etc is touched). `stop()` ends exactly those PIDs.

Debian's packages are installed with apt-get when a binary is missing (CI machines start bare);
without root or apt-get the cluster cannot exist and `ClusterUnavailable` says why.
"""

from __future__ import annotations

import getpass
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# Debian package -> a binary it installs; a missing binary means the package is installed.
PACKAGES: dict[str, str] = {
    "munge": "munged",
    "slurmctld": "slurmctld",
    "slurmd": "slurmd",
    "slurm-client": "sbatch",
    "slurmdbd": "slurmdbd",
    "mariadb-server": "mariadbd",
}
SBIN_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
CLUSTER_NAME = "karmatest"
ACCOUNT = "karma"
PARTITION = "debug"
DB_USER, DB_PASSWORD, DB_NAME = "slurm", "karma-test-only", "slurm_acct_db"
# Inside a job the slurm-jobstep plugin starts `srun` with every SLURM_* variable removed
# (SLURM_CONF included), so srun finds the cluster only through the default config path.
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
SYSTEM_CONF_MARKER = "# throwaway test cluster of tests/slurm_cluster.py; safe to delete\n"


class ClusterUnavailable(RuntimeError):
    """This machine cannot host the test cluster (no root, no apt-get); the message says why."""


class ClusterFailed(RuntimeError):
    """A daemon did not come up; the message names it and quotes the end of its log."""


def find_binary(name: str) -> str | None:
    """Daemons live in /usr/sbin, which a non-login PATH may lack."""
    found = shutil.which(name)
    if found:
        return found
    for directory in SBIN_DIRS:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def missing_packages() -> list[str]:
    return [package for package, binary in PACKAGES.items() if find_binary(binary) is None]


def ensure_packages() -> None:
    """Install Debian's slurm, munge and MariaDB packages when any binary is missing."""
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0:
        raise ClusterUnavailable(
            f"SLURM test needs packages {missing} but is not running as root, so it cannot "
            "apt-get install them; run the tests as root or install them first."
        )
    apt = find_binary("apt-get")
    if apt is None:
        raise ClusterUnavailable(
            f"SLURM test needs packages {missing} and this machine has no apt-get; install "
            "Debian's slurmctld, slurmd, slurm-client, slurmdbd, munge and mariadb-server by hand."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log.warning("installing %s with apt-get (one-time, about 30 s)", missing)
    started = time.monotonic()
    for command in (
        [apt, "update"],
        [apt, "install", "-y", "--no-install-recommends", *PACKAGES],
    ):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise ClusterFailed(
                f"{' '.join(command)} failed with exit code {result.returncode}:\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            )
    still_missing = missing_packages()
    if still_missing:
        raise ClusterFailed(f"apt-get install finished but {still_missing} are still missing")
    log.warning("installed in %.0f s", time.monotonic() - started)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Daemon:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError as error:
            return f"(no log: {error})"


@dataclass
class LocalSlurmCluster:
    """One node (`localhost`), accounting through slurmdbd on MariaDB. Its one partition is not
    the default, so a job reaches it only if the profile's slurm_partition reached sbatch."""

    root: Path  # an empty directory for configs, sockets, database, state and logs
    daemons: list[Daemon] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    wrote_system_conf: bool = False
    partition: str = PARTITION
    account: str = ACCOUNT

    @property
    def slurm_conf(self) -> Path:
        return self.root / "etc" / "slurm.conf"

    @property
    def munge_socket(self) -> Path:
        return self.root / "run" / "munge.socket"

    @property
    def env(self) -> dict[str, str]:
        """Environment for any client (sbatch, sacct, snakemake) that talks to this cluster."""
        path = os.environ.get("PATH", "")
        extra = ":".join(d for d in SBIN_DIRS if d not in path.split(":"))
        return {
            **os.environ,
            "SLURM_CONF": str(self.slurm_conf),
            "PATH": f"{path}:{extra}" if extra else path,
        }

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self, timeout_s: float = 90.0) -> None:
        for sub in ("etc", "run", "log", "state", "spool", "db"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.ports = {name: free_port() for name in ("ctld", "slurmd", "dbd", "mysql")}
        started = time.monotonic()
        self._start_munge(timeout_s)
        self._start_mariadb(timeout_s)
        self._write_slurm_conf()
        self._install_system_conf()
        self._start_slurmdbd(timeout_s)
        self._register_accounts(timeout_s)
        self._start_slurmctld(timeout_s)
        self._start_slurmd(timeout_s)
        log.warning(
            "SLURM cluster up in %.1f s under %s", time.monotonic() - started, self.root
        )

    def stop(self) -> None:
        """Cancel leftover jobs, end every daemon this harness started (newest first, by PID),
        then remove the database files and the config written to the default path."""
        if any(d.name == "slurmctld" and d.process.poll() is None for d in self.daemons):
            self.run("scancel", f"--user={getpass.getuser()}")
        for daemon in reversed(self.daemons):
            if daemon.process.poll() is not None:
                continue
            daemon.process.send_signal(signal.SIGTERM)
            try:
                daemon.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %d) ignored SIGTERM; killing it", daemon.name, daemon.process.pid)
                daemon.process.kill()
                daemon.process.wait(timeout=10)
        self.daemons.clear()
        shutil.rmtree(self.root / "db", ignore_errors=True)  # ~180 MB of InnoDB files; logs stay
        if self.wrote_system_conf and SYSTEM_CONF.exists():
            if SYSTEM_CONF.read_text().startswith(SYSTEM_CONF_MARKER):
                SYSTEM_CONF.unlink()
            self.wrote_system_conf = False

    def __enter__(self) -> "LocalSlurmCluster":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- helpers ---------------------------------------------------------------------------
    def run(self, *command: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(command), env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def _spawn(self, name: str, command: list[str]) -> Daemon:
        log_path = self.root / "log" / f"{name}.stdout"
        with open(log_path, "wb") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, cwd=self.root, start_new_session=True,
            )
        daemon = Daemon(name, process, log_path)
        self.daemons.append(daemon)
        log.info("started %s, pid %d", name, process.pid)
        return daemon

    def _wait(self, daemon: Daemon, ready: Callable[[], bool], timeout_s: float,
              extra_log: Path | None = None) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if daemon.process.poll() is not None:
                break
            if ready():
                return
            time.sleep(0.5)
        detail = daemon.tail()
        if extra_log is not None and extra_log.exists():
            detail += f"\n--- {extra_log} ---\n" + extra_log.read_text(errors="replace")[-3000:]
        state = (
            f"exited with code {daemon.process.returncode}"
            if daemon.process.poll() is not None
            else f"not ready after {timeout_s:.0f} s"
        )
        raise ClusterFailed(f"{daemon.name} {state}; its log ends:\n{detail}")

    def _ok(self, *command: str) -> bool:
        try:
            return self.run(*command, timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    # ---- daemons ---------------------------------------------------------------------------
    def _start_munge(self, timeout_s: float) -> None:
        key = self.root / "etc" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        # --force: munged wants every parent of its socket world-executable; temporary
        # directories are 0700, and only root's daemons and clients use this socket.
        daemon = self._spawn("munged", [
            find_binary("munged") or "munged", "--foreground", "--force",
            f"--key-file={key}", f"--socket={self.munge_socket}",
            f"--pid-file={self.root / 'run' / 'munged.pid'}",
            f"--log-file={self.root / 'log' / 'munged.log'}",
            f"--seed-file={self.root / 'run' / 'munged.seed'}",
        ])

        def ready() -> bool:
            if not self.munge_socket.exists():
                return False
            encode = subprocess.run(
                ["munge", "-n", "-S", str(self.munge_socket)], capture_output=True, timeout=10
            )
            decode = subprocess.run(
                ["unmunge", "-S", str(self.munge_socket)], input=encode.stdout,
                capture_output=True, timeout=10,
            )
            return encode.returncode == 0 and decode.returncode == 0

        self._wait(daemon, ready, timeout_s, self.root / "log" / "munged.log")

    @property
    def mysql_socket(self) -> Path:
        return self.root / "run" / "mysqld.sock"

    def _start_mariadb(self, timeout_s: float) -> None:
        datadir = self.root / "db"
        install = subprocess.run(
            [find_binary("mariadb-install-db") or "mariadb-install-db", "--user=root",
             f"--datadir={datadir}", "--auth-root-authentication-method=normal",
             "--skip-test-db"],
            capture_output=True, text=True, timeout=120,
        )
        if install.returncode != 0:
            raise ClusterFailed(f"mariadb-install-db failed:\n{install.stdout[-2000:]}\n"
                                f"{install.stderr[-2000:]}")
        daemon = self._spawn("mariadbd", [
            find_binary("mariadbd") or "mariadbd", "--no-defaults", "--user=root",
            f"--datadir={datadir}", f"--socket={self.mysql_socket}",
            "--bind-address=127.0.0.1", f"--port={self.ports['mysql']}",
            f"--pid-file={self.root / 'run' / 'mariadbd.pid'}",
            "--innodb-buffer-pool-size=64M", "--innodb-lock-wait-timeout=900",
            "--skip-log-bin",
        ])
        self._wait(daemon, lambda: self._ok(
            "mariadb-admin", f"--socket={self.mysql_socket}", "-uroot", "ping"), timeout_s)
        grants = (
            f"CREATE DATABASE {DB_NAME}; "
            f"CREATE USER '{DB_USER}'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}'; "
            f"GRANT ALL ON {DB_NAME}.* TO '{DB_USER}'@'127.0.0.1'; FLUSH PRIVILEGES;"
        )
        result = self.run("mariadb", f"--socket={self.mysql_socket}", "-uroot", "-e", grants)
        if result.returncode != 0:
            raise ClusterFailed(f"creating the accounting database failed: {result.stderr}")

    def _node_line(self) -> str:
        """The node's real CPUs/memory from `slurmd -C`, so slurmctld never drains it."""
        result = self.run(find_binary("slurmd") or "slurmd", "-C")
        fields = dict(
            part.split("=", 1) for part in result.stdout.split() if "=" in part
        )
        keep = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore",
                "RealMemory")
        if result.returncode != 0 or not all(k in fields for k in keep):
            raise ClusterFailed(f"`slurmd -C` did not describe the node: {result.stdout}"
                                f"{result.stderr}")
        described = " ".join(f"{k}={fields[k]}" for k in keep)
        return f"NodeName=localhost NodeAddr=127.0.0.1 {described} State=UNKNOWN"

    def _write_slurm_conf(self) -> None:
        r = self.root
        auth = f"socket={self.munge_socket}"
        self.slurm_conf.write_text(f"""\
ClusterName={CLUSTER_NAME}
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={self.ports['ctld']}
SlurmdPort={self.ports['slurmd']}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo={auth}
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=300
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={self.ports['dbd']}
AccountingStoragePass={self.munge_socket}
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
JobCompType=jobcomp/none
{self._node_line()}
PartitionName={self.partition} Nodes=localhost Default=NO MaxTime=INFINITE State=UP
""")
        dbd_conf = self.slurm_conf.with_name("slurmdbd.conf")
        dbd_conf.write_text(f"""\
AuthType=auth/munge
AuthInfo={auth}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={self.ports['dbd']}
SlurmUser=root
DebugLevel=info
LogFile={r}/log/slurmdbd.log
PidFile={r}/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={self.ports['mysql']}
StorageUser={DB_USER}
StoragePass={DB_PASSWORD}
StorageLoc={DB_NAME}
""")
        dbd_conf.chmod(0o600)  # slurmdbd refuses a conf with a password that others can read

    def _install_system_conf(self) -> None:
        """Copy slurm.conf to the default path for the srun inside each job (see SYSTEM_CONF);
        refuse to replace a configuration this harness did not write."""
        if SYSTEM_CONF.exists() and not SYSTEM_CONF.read_text().startswith(SYSTEM_CONF_MARKER):
            raise ClusterFailed(
                f"{SYSTEM_CONF} configures another SLURM cluster on this machine; the test "
                "cluster's jobs would reach that one. Run the SLURM test on a machine without it."
            )
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SYSTEM_CONF.write_text(SYSTEM_CONF_MARKER + self.slurm_conf.read_text())
        self.wrote_system_conf = True

    def _start_slurmdbd(self, timeout_s: float) -> None:
        daemon = self._spawn("slurmdbd", [find_binary("slurmdbd") or "slurmdbd", "-D"])
        self._wait(daemon, lambda: self._ok("sacctmgr", "-n", "list", "cluster"), timeout_s,
                   self.root / "log" / "slurmdbd.log")

    def _register_accounts(self, timeout_s: float) -> None:
        for command in (
            ("sacctmgr", "-i", "add", "cluster", CLUSTER_NAME),
            ("sacctmgr", "-i", "add", "account", self.account, "Description=karma-test",
             f"Organization={CLUSTER_NAME}"),
            ("sacctmgr", "-i", "add", "user", "root", f"Account={self.account}",
             f"DefaultAccount={self.account}"),
        ):
            result = self.run(*command, timeout=timeout_s)
            if result.returncode != 0:
                raise ClusterFailed(f"{' '.join(command)} failed: {result.stdout}{result.stderr}")

    def _start_slurmctld(self, timeout_s: float) -> None:
        daemon = self._spawn("slurmctld", [find_binary("slurmctld") or "slurmctld", "-D", "-i"])
        self._wait(daemon, lambda: self._ok("scontrol", "ping"), timeout_s,
                   self.root / "log" / "slurmctld.log")

    def _start_slurmd(self, timeout_s: float) -> None:
        daemon = self._spawn("slurmd", [find_binary("slurmd") or "slurmd", "-D", "-N", "localhost"])

        def idle() -> bool:
            result = self.run("sinfo", "--noheader", "--format=%T", timeout=10)
            return result.returncode == 0 and result.stdout.strip() == "idle"

        self._wait(daemon, idle, timeout_s, self.root / "log" / "slurmd.log")
