"""A throwaway PostgreSQL cluster in a temporary directory, for tests and benchmarks.

`initdb` + `pg_ctl start` on a unix socket in the cluster's own directory (no TCP port, so
parallel runs cannot collide), stopped and deleted afterwards. Never a system service.

PostgreSQL refuses to run as root. As root the cluster belongs to the `postgres` user, which
Debian's `postgresql` package creates (`make test` installs it when the binaries are missing),
else to `nobody`; the directory is handed to that user and the server runs through `runuser`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "postgres"


def find_bindir() -> Path | None:
    """The newest PostgreSQL server binaries on this machine, or None."""
    env = os.environ.get("SECURE_MSG_PG_BINDIR")
    candidates = [env] if env else []
    # Debian keeps server binaries out of PATH, one directory per major version.
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda p: int(Path(p).parent.name), reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for candidate in candidates:
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    return None


def _run_as() -> str | None:
    """The user to run the server as: None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root and neither a postgres nor a nobody user exists")


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _children(pid: int) -> list[int]:
    found = []
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = stat_path.read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            found.append(int(stat_path.parent.name))
    return found


@dataclass
class PgCluster:
    root: Path
    bindir: Path
    user: str | None
    port: int = 5432
    options: str = ""  # the server's command-line settings, kept for `restart`

    @property
    def socket_dir(self) -> Path:
        return self.root

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{dbname}?host={self.socket_dir}&port={self.port}"

    def _cmd(self, *args: str) -> list[str]:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        return [*prefix, *args]

    def _run(self, *args: str) -> None:
        subprocess.run(self._cmd(*args), check=True, capture_output=True,  # noqa: S603
                       cwd=self.root)

    @classmethod
    def start(cls, *, durable: bool = False, bindir: Path | None = None) -> PgCluster:
        """Create and start a cluster. `durable=False` turns off fsync (tests, where nothing
        must survive a power cut); benchmarks pass True so commits cost what they will."""
        found = bindir or find_bindir()
        if found is None:
            raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
        user = _run_as()
        root = Path(tempfile.mkdtemp(prefix="secure-msg-pg-"))
        if user:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        cluster = cls(root=root, bindir=found, user=user)
        data = root / "data"
        try:
            cluster._run(str(found / "initdb"), "-D", str(data), "-U", SUPERUSER,
                         "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-instructions")
            options = [f"-k {root}", "-c listen_addresses=''", f"-p {cluster.port}",
                       "-c max_connections=200", "-c shared_buffers=64MB"]
            if not durable:
                options += ["-c fsync=off", "-c full_page_writes=off",
                            "-c synchronous_commit=off"]
            cluster.options = " ".join(options)
            cluster._pg_ctl_start()
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return cluster

    def _pg_ctl_start(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-l",
                  str(self.root / "log"), "-w", "-o", self.options, "start")

    def postmaster_pid(self) -> int:
        return int((self.root / "data" / "postmaster.pid").read_text().split()[0])

    def kill(self, timeout: float = 30.0) -> None:
        """kill -9 of the postmaster: a crash (tests of what the app does then). Returns once
        it and all its children (which exit when they notice it gone) have ended."""
        pid = self.postmaster_pid()
        family = [pid, *_children(pid)]
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while any(_alive(p) for p in family):
            if time.monotonic() > deadline:
                raise TimeoutError(f"PostgreSQL processes still running: {family}")
            time.sleep(0.02)

    def restart(self) -> None:
        """Start the server again on the same data (after `kill`: crash recovery replays the
        WAL, as after a power cut)."""
        # A killed postmaster no one reaps (PID 1 in a container may not) stays a zombie, which
        # the new one takes for a live server holding its lock files: it is not.
        for lock in (self.root / "data" / "postmaster.pid",
                     self.socket_dir / f".s.PGSQL.{self.port}.lock"):
            if lock.exists() and not _alive(int(lock.read_text().split()[0])):
                lock.unlink()
        self._pg_ctl_start()

    def create_database(self, name: str) -> str:
        """A new empty database; returns its DSN."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        try:
            if not (self.root / "data" / "postmaster.pid").exists() or not _alive(
                    self.postmaster_pid()):
                return  # killed (and not restarted): nothing to stop
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"),
                      "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
