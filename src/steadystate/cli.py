"""The ``steadystate`` command line: ``serve`` (the coordinator) and ``replica`` (one replica process), ``status``
(the production-readiness verdict of every cluster), ``restart`` and ``stop`` (planned restarts and stops of a
running ``serve``).

``steadystate serve [--data-dir DIR] [--sql-port 6875] [--http-port 6876] [--storage-url URL]`` starts an
environment: a supervisor that holds the SQL port (PostgreSQL protocol; its pgwire proxy carries each client
over to the coordinator, and over to a new coordinator after a crash) and the HTTP port and runs the
coordinator (``steadystate coordinator``, on an internal port) as a child it restarts if it dies, and the
coordinator's replica processes.
Logs go to stderr and to ``<data-dir>/steadystate.log``.  ``steadystate replica`` is started by the
orchestrator, not by hand.

``steadystate restart [--data-dir DIR]`` restarts the coordinator of the ``serve`` running on ``DIR`` in place
(SIGHUP to its supervisor): the ports stay open, client sessions carry on, the replicas are adopted; it returns
once the new coordinator serves.  ``steadystate stop [--data-dir DIR]`` stops that ``serve`` and its replica
processes (SIGUSR1); ``--keep-replicas`` leaves the replicas running for the next ``serve`` to adopt (SIGTERM,
which is also what Ctrl-C does).  Both find the supervisor through ``DIR/serve.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from steadystate.errors import InvalidParameterValue
from steadystate.supervisor import EXIT_CONFIG
from steadystate.security.files import (CERT_FILE, PGPASS_FILE, TLS_DIR, check_writable, private_dir, private_umask,
                                        read_pgpass, tighten_tree)

if TYPE_CHECKING:
    import psutil


def _setup_logging(data_dir: Path) -> bool:
    """Make the data directory private and log into it; False (with the reason on stderr) if it is unusable: a
    configuration error, which restarting cannot fix."""
    private_umask()  # every file and directory this process creates is its user's only
    try:
        private_dir(data_dir)
        check_writable(data_dir)
        file_handler = logging.FileHandler(data_dir / "steadystate.log")
    except OSError as exc:
        print(f'steadystate: configuration error: cannot use the data directory "{data_dir}": '
              f"{exc.strerror or exc}\nhint: it must be writable by the user the server runs as", file=sys.stderr)
        return False
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in (logging.StreamHandler(sys.stderr), file_handler):
        handler.setFormatter(formatter)
        root.addHandler(handler)
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    return True


STORAGE_URL_ENV = "STEADYSTATE_STORAGE_URL"  # how a storage URL (it may hold a password) reaches a child process
_PASSED_TO_COORDINATOR = ("data_dir", "host", "sql_port", "http_port", "startup_timeout",
                          "orphan_timeout", "compaction_interval", "compaction_lag_ms", "insecure", "tls_cert")
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _serve(args: argparse.Namespace) -> int:
    """The supervisor: hold the ports, run the coordinator as a child, restart it if it dies."""
    from steadystate.supervisor import Supervisor

    if args.insecure and args.host not in _LOOPBACK:
        print(f"--insecure accepts every user without a password: it listens on loopback only, not on "
              f"{args.host}", file=sys.stderr)
        return 2
    from steadystate.security.tls import server_context, server_files

    data_dir = Path(args.data_dir).resolve()
    if not _setup_logging(data_dir):
        return EXIT_CONFIG
    tighten_tree(data_dir)  # a data directory an earlier release left readable by others
    try:
        tls = server_context(server_files(data_dir, _path(args.tls_cert), _path(args.tls_key)))
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        print(f"cannot use the TLS certificate and key: {exc}", file=sys.stderr)
        return 2
    if args.insecure:
        logging.getLogger("steadystate").warning(
            "INSECURE MODE: authentication is off, every user name is accepted without a password "
            "(development only)")
    passed: list[str] = []
    for name in _PASSED_TO_COORDINATOR:
        value = getattr(args, name)
        if value is True:
            passed.append(f"--{name.replace('_', '-')}")
        elif value is not None and value is not False:
            passed += [f"--{name.replace('_', '-')}", str(data_dir if name == "data_dir" else value)]
    try:
        if args.storage_url:  # to the coordinator through its environment, not its command line
            os.environ[STORAGE_URL_ENV] = args.storage_url
        supervisor = Supervisor(passed, args.host, args.sql_port, args.http_port, data_dir,
                                startup_timeout=args.startup_timeout, tls=tls, require_tls=args.require_tls,
                                max_connections=args.max_connections)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.sql_port}/{args.http_port}: {exc}", file=sys.stderr)
        return 1
    return supervisor.run()


def _coordinator(args: argparse.Namespace) -> int:
    """The coordinator process (started by ``serve``): serves on the sockets it inherited."""
    from steadystate.adapter.coordinator import CoordinatorConfig
    from steadystate.server import SecurityConfig, serve_forever
    from steadystate.supervisor import RESUME_TOKEN_ENV

    if args.insecure and args.host not in _LOOPBACK:
        print("--insecure is allowed on loopback only", file=sys.stderr)
        return 2
    security = SecurityConfig(insecure=args.insecure, resume_token=os.environ.pop(RESUME_TOKEN_ENV, None))

    data_dir = Path(args.data_dir).resolve()
    if not _setup_logging(data_dir):
        return EXIT_CONFIG
    config = CoordinatorConfig(
        data_dir=data_dir,
        sql_host=args.host,
        sql_port=args.sql_port,
        http_port=args.http_port,
        storage_url=args.storage_url or os.environ.pop(STORAGE_URL_ENV, None),
        startup_timeout_s=args.startup_timeout,
        orphan_timeout_s=args.orphan_timeout,
        compaction_interval_s=args.compaction_interval,
        compaction_lag_ms=args.compaction_lag_ms,
        sql_fd=args.sql_fd,
        http_fd=args.http_fd,
    )

    def announce(server: object) -> None:
        if args.insecure:
            connect = f"psql -h localhost -p {args.sql_port} -U materialize materialize   (INSECURE: no password)"
        else:  # the password stays in the file: libpq reads it from there, nothing prints it
            tls = ("sslmode=require" if args.tls_cert else
                   f"sslmode=verify-full sslrootcert={data_dir / TLS_DIR / CERT_FILE}")
            connect = (f'psql "host=localhost port={args.sql_port} user=materialize dbname=materialize '
                       f'passfile={data_dir / PGPASS_FILE} {tls}"')
        print(
            f"steadystate is ready.\n"
            f"  connect:   {connect}\n"
            f"  health:    curl http://localhost:{args.http_port}/api/readyz\n"
            f"  data dir:  {data_dir}",
            file=sys.stderr,
            flush=True,
        )

    try:
        asyncio.run(serve_forever(config, announce, security))
    except InvalidParameterValue as exc:  # a configuration error (e.g. a malformed --storage-url): restarting the
        logging.getLogger("steadystate").error("configuration error: %s", exc)  # coordinator cannot help
        print(f"steadystate: configuration error: {exc}" + (f"\nhint: {exc.hint}" if exc.hint else ""),
              file=sys.stderr)
        return EXIT_CONFIG
    return 0


def _replica(args: argparse.Namespace) -> int:
    from steadystate.compute.server import run_replica

    from steadystate.orchestrator import REPLICA_SIZES

    storage_url = args.storage_url or os.environ.pop(STORAGE_URL_ENV, None)
    if not storage_url:
        print("no storage URL: give --storage-url or set STEADYSTATE_STORAGE_URL", file=sys.stderr)
        return 2
    run_replica(args.replica_id, storage_url, args.dir, orphan_timeout=args.orphan_timeout,
                memory_limit=REPLICA_SIZES.get(args.size))
    return 0


def _fetch(url: str, args: argparse.Namespace) -> dict:
    """GET a JSON document from the HTTP API as ``--user``, with the password in ``PGPASSWORD`` or else in
    ``<data-dir>/pgpass`` (the HTTP API authenticates as the SQL port does: HTTP Basic over the same roles)."""
    import base64
    import json
    import urllib.request

    request = urllib.request.Request(url)
    password = os.environ.get("PGPASSWORD") or read_pgpass(Path(args.data_dir) / PGPASS_FILE, args.user)
    if password is not None:
        token = base64.b64encode(f"{args.user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.load(response))


def _print_verdict(clusters: list[dict], file: TextIO = sys.stdout) -> None:
    """The verdict as a table, each cluster's reasons (-) and warnings (!) below it; with the console's
    environment document (``status --watch``), hydration progress too."""
    print(f"{'cluster':<16} {'sealed':<7} {'ready':<6} replicas", file=file)
    for cluster in clusters:
        replicas = ", ".join(
            f"{r['name']} ({'online' if r['online'] else 'offline'}, {'clean' if r['clean'] else 'dirty'})"
            for r in cluster["replicas"]
        ) or "-"
        print(f"{cluster['name']:<16} {str(cluster['sealed']).lower():<7} {str(cluster['ready']).lower():<6} "
              f"{replicas}", file=file)
        hydration = cluster.get("hydration")
        if hydration and hydration["hydrated"] < hydration["total"]:
            left = hydration["time_left_estimate"]
            print(f"    ~ hydrating: {hydration['hydrated']} of {hydration['total']} objects hydrated"
                  + (f", about {left:.1f} s left" if left is not None else ""), file=file)
        for reason in cluster["reasons"]:
            print(f"    - {reason}", file=file)
        for warning in cluster["warnings"]:
            print(f"    ! {warning}", file=file)


def _status(args: argparse.Namespace) -> int:
    """Print the readiness verdict of every cluster, or of the clusters named (from GET /api/readiness); with
    ``--watch``, again every ``--interval`` seconds (from the console's ``/console/api/environment``, which adds
    hydration progress and the COPY FROM statements running) until interrupted."""
    import json
    import urllib.error

    base = f"http://{args.host}:{args.http_port}"
    url = f"{base}/console/api/environment" if args.watch else f"{base}/api/readiness"
    try:
        while True:
            try:
                document = _fetch(url, args)
            except urllib.error.HTTPError as exc:  # refused (401: the credentials): waiting will not help
                print(f"{url}: {exc.code} {exc.reason}", file=sys.stderr)
                return 2
            except OSError as exc:
                print(f"cannot reach {url}: {exc}", file=sys.stderr)
                if not args.watch:
                    return 2
                document = None
            if document is not None:
                clusters = document["clusters"]
                if args.clusters:
                    unknown = sorted(set(args.clusters) - {c["name"] for c in clusters})
                    if unknown:
                        print(f"unknown cluster {', '.join(unknown)}", file=sys.stderr)
                        return 2
                    clusters = [c for c in clusters if c["name"] in args.clusters]
                if args.json:
                    print(json.dumps(clusters, indent=None if args.watch else 2), flush=True)
                else:
                    if args.watch and sys.stdout.isatty():
                        print("\x1b[H\x1b[2J", end="")  # clear the terminal: the watch redraws in place
                    _print_verdict(clusters)
                    for copy in document.get("copies", []):
                        print(f"COPY FROM into {copy['table']}: {copy['rows_received']} rows {copy['phase']}")
                    sys.stdout.flush()
                if not args.watch:
                    return 0 if all(c["ready"] for c in clusters) or not args.check else 1
            time.sleep(args.interval)
    except KeyboardInterrupt:  # the end of --watch
        return 0


def _running_supervisor(data_dir: Path) -> tuple[dict, psutil.Process] | None:
    """The state file of the ``serve`` running on ``data_dir`` and its supervisor process, or ``None``."""
    import json

    import psutil

    from steadystate.supervisor import STATE_FILE

    try:
        state = json.loads((data_dir / STATE_FILE).read_text())
        process = psutil.Process(int(state["pid"]))
        if "serve" not in process.cmdline():
            return None
    except (OSError, ValueError, KeyError, TypeError, psutil.Error):
        return None
    return state, process


def _alive(process: psutil.Process) -> bool:
    import psutil

    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _stop(args: argparse.Namespace) -> int:
    """Stop the ``serve`` running on a data directory, with its replicas unless ``--keep-replicas``."""
    import signal
    import time

    data_dir = Path(args.data_dir).resolve()
    found = _running_supervisor(data_dir)
    if found is None:
        print(f"no steadystate server is running on {data_dir}", file=sys.stderr)
        return 1
    _, process = found
    process.send_signal(signal.SIGTERM if args.keep_replicas else signal.SIGUSR1)
    deadline = time.monotonic() + args.timeout
    while _alive(process):  # not our child: poll (an exited one may stay a zombie until its parent reaps it)
        if time.monotonic() > deadline:
            print(f"the server (pid {process.pid}) did not stop within {args.timeout:g} s", file=sys.stderr)
            return 1
        time.sleep(0.05)
    print("steadystate stopped" + (" (replica processes left running for the next server to adopt)"
                                   if args.keep_replicas else ""), file=sys.stderr)
    return 0


def _restart(args: argparse.Namespace) -> int:
    """Restart the coordinator of a running ``serve`` in place; return once the new one serves."""
    import json
    import signal
    import time
    import urllib.request

    from steadystate.supervisor import STATE_FILE

    data_dir = Path(args.data_dir).resolve()
    found = _running_supervisor(data_dir)
    if found is None:
        print(f"no steadystate server is running on {data_dir}", file=sys.stderr)
        return 1
    state, process = found
    old = state.get("coordinator_pid")
    process.send_signal(signal.SIGHUP)
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(state["host"], state["host"])
    url = f"http://{f'[{host}]' if ':' in host else host}:{state['http_port']}"
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        try:
            new = json.loads((data_dir / STATE_FILE).read_text()).get("coordinator_pid")
            if new not in (None, old):
                with urllib.request.urlopen(f"{url}/api/readyz", timeout=1) as response:
                    if response.status == 200:
                        print(f"coordinator restarted (pid {old} -> {new})", file=sys.stderr)
                        return 0
        except (OSError, ValueError):
            pass
        if not _alive(process):
            print("the server stopped during the restart", file=sys.stderr)
            return 1
        time.sleep(0.05)
    print(f"the new coordinator did not become ready within {args.timeout:g} s", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="steadystate", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the coordinator (restarted if it dies) and its replicas")
    coordinator = commands.add_parser("coordinator", help="the coordinator process (started by serve)")
    for command in (serve, coordinator):
        command.add_argument("--data-dir", default="data", help="where the catalog, storage and logs live (./data)")
        command.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
        command.add_argument("--sql-port", type=int, default=6875)
        command.add_argument("--http-port", type=int, default=6876)
        command.add_argument("--storage-url", default=None,
                             help="shard storage: sqlite:///path (default: <data-dir>/storage.db) or postgresql://... "
                                  "(or set $STEADYSTATE_STORAGE_URL, which keeps a password off the command line)")
        command.add_argument("--startup-timeout", type=float, default=60.0,
                             help="close SQL connections that have not completed startup after this many seconds")
        command.add_argument("--orphan-timeout", type=float, default=30.0,
                             help="replicas exit after this many seconds without a coordinator (they are adopted "
                                  "by a coordinator that restarts sooner)")
        command.add_argument("--compaction-interval", type=float, default=5.0,
                             help="seconds between rounds of table shard compaction (0: never compact)")
        command.add_argument("--compaction-lag-ms", type=int, default=10_000,
                             help="how far behind the clock a table shard's since stays, at least (milliseconds)")
        command.add_argument("--tls-cert", default=None,
                             help="the server's TLS certificate chain (PEM); default: a self-signed one generated "
                                  "into <data-dir>/tls")
        command.add_argument("--insecure", action="store_true",
                             help="development only: no authentication, every user name accepted without a "
                                  "password (loopback only)")
    serve.add_argument("--tls-key", default=None, help="the private key of --tls-cert (PEM)")
    serve.add_argument("--max-connections", type=int, default=None,
                       help="client connections served at once; past it a new one gets 53300 (default: 1000, "
                            "fewer if the file-descriptor limit is lower)")
    serve.add_argument("--require-tls", action="store_true",
                       help="refuse SQL connections that do not use TLS (28000)")
    coordinator.add_argument("--sql-fd", type=int, default=None, help="inherited listening socket for SQL")
    coordinator.add_argument("--http-fd", type=int, default=None, help="inherited listening socket for HTTP")
    serve.set_defaults(run=_serve)
    coordinator.set_defaults(run=_coordinator)
    replica = commands.add_parser("replica", help="one replica process (started by the orchestrator)")
    replica.add_argument("--replica-id", required=True)
    replica.add_argument("--cluster-id", required=True)
    replica.add_argument("--size", default="small")
    replica.add_argument("--storage-url", default=None,
                         help="the shard storage (default: $STEADYSTATE_STORAGE_URL, how the orchestrator passes it)")
    replica.add_argument("--dir", required=True)
    replica.add_argument("--orphan-timeout", type=float, default=30.0,
                         help="exit when no coordinator has been connected for this many seconds")
    replica.set_defaults(run=_replica)
    status = commands.add_parser("status", help="print every cluster's production-readiness verdict")
    status.add_argument("--host", default="127.0.0.1")
    status.add_argument("--http-port", type=int, default=6876)
    status.add_argument("--data-dir", default="data", help="the serve's data directory, whose pgpass holds the "
                                                            "password (./data; PGPASSWORD wins)")
    status.add_argument("--user", default="materialize", help="the role to authenticate as (materialize)")
    status.add_argument("--json", action="store_true", help="print the JSON verdict")
    status.add_argument("--check", action="store_true", help="exit 1 unless every cluster listed is ready")
    status.add_argument("--watch", action="store_true",
                        help="print it again every --interval seconds, with hydration and COPY progress, until "
                             "interrupted")
    status.add_argument("--interval", type=float, default=1.0, help="seconds between two prints of --watch (1)")
    status.add_argument("clusters", nargs="*", metavar="CLUSTER",
                        help="only these clusters (e.g. the production ones); default: every cluster")
    status.set_defaults(run=_status)
    restart = commands.add_parser("restart", help="restart the coordinator of a running serve in place "
                                                  "(connections and replicas are kept)")
    restart.add_argument("--data-dir", default="data", help="the running serve's data directory (./data)")
    restart.add_argument("--timeout", type=float, default=120.0,
                         help="seconds to wait for the new coordinator to serve")
    restart.set_defaults(run=_restart)
    stop = commands.add_parser("stop", help="stop a running serve and its replica processes")
    stop.add_argument("--data-dir", default="data", help="the running serve's data directory (./data)")
    stop.add_argument("--keep-replicas", action="store_true",
                      help="leave the replica processes running for the next serve to adopt (as SIGTERM does)")
    stop.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the server to exit")
    stop.set_defaults(run=_stop)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
