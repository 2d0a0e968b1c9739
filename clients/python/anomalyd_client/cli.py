"""The `anomalyd` command: run a server, manage jobs, post data, manage API keys, run the demo.

Exit codes: 0 success, 1 a local error (a file, a value), 2 a usage error, 130 interrupted,
and 10 + the gRPC status code for a failed call (15 NOT_FOUND, 16 ALREADY_EXISTS,
19 FAILED_PRECONDITION, 24 UNAVAILABLE, ...).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from anomalyd.api import keystore
from anomalyd.api.auth import ROLE_PRIVILEGES
from anomalyd_client import demo, detector
from anomalyd_client.client import DEFAULT_TARGET, Client, Document
from anomalyd_client.console import ProgressLine, fields, table, text
from anomalyd_client.convert import parse_duration, parse_time
from anomalyd_client.detector import Detector
from anomalyd_client.errors import AnomalydError

T = TypeVar("T")
Output = tuple[Any, str]
"""What a command prints: its result for --json, and the same for people."""

_EXIT_LOCAL_ERROR = 1
_EXIT_INTERRUPTED = 130
_EXIT_RPC_BASE = 10


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code."""
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "serve":
        # Imported here so that the client commands never load the server and its store.
        from anomalyd import server

        server.main(rest)
        return 0
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if args.command == "demo":
            demo.run(args.data_dir, hours=args.hours, seed=args.seed)
            return 0
        if args.command == "keys":
            result, human = args.handler(args)
        else:
            with _client(args) as client:
                result, human = args.handler(client, args)
        print(msgspec.json.encode(result).decode() if getattr(args, "json", False) else human)
        return 0
    except AnomalydError as error:
        print(f"error: {error}", file=sys.stderr)
        for field, description in error.field_violations:
            if description not in error.message:
                print(f"  {field}: {description}", file=sys.stderr)
        return _EXIT_RPC_BASE + error.code.value[0]
    except (OSError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return _EXIT_LOCAL_ERROR
    except KeyboardInterrupt:
        return _EXIT_INTERRUPTED


def _client(args: argparse.Namespace) -> Client:
    """A client of the server that the global options (or their environment variables) name."""
    env = os.environ.get
    return Client(
        getattr(args, "target", env("ANOMALYD_TARGET", DEFAULT_TARGET)),
        tls=getattr(args, "tls", False),
        ca_file=getattr(args, "tls_ca", env("ANOMALYD_TLS_CA")),
        cert_file=getattr(args, "client_cert", env("ANOMALYD_CLIENT_CERT")),
        key_file=getattr(args, "client_key", env("ANOMALYD_CLIENT_KEY")),
        api_key=getattr(args, "api_key", env("ANOMALYD_API_KEY")),
    )


def _parser() -> argparse.ArgumentParser:
    # The connection options and --json are accepted before or after the command. Their
    # defaults are SUPPRESS so that a subcommand's parse does not overwrite a value given
    # before it; main supplies the real defaults.
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for machines"
    )
    shared = argparse.ArgumentParser(add_help=False, parents=[output])
    shared.add_argument(
        "--tls",
        action="store_true",
        default=argparse.SUPPRESS,
        help="connect with TLS, trusting the system's CAs (implied by the three options below)",
    )
    for flag, metavar, description in (
        ("--target", None, f"server host:port (default: $ANOMALYD_TARGET or {DEFAULT_TARGET})"),
        ("--tls-ca", "FILE", "PEM CA certificates to verify the server with (default: $ANOMALYD_TLS_CA)"),
        ("--client-cert", "FILE", "PEM client certificate for mutual TLS (default: $ANOMALYD_CLIENT_CERT)"),
        ("--client-key", "FILE", "its PEM private key (default: $ANOMALYD_CLIENT_KEY)"),
        ("--api-key", "CREDENTIAL", "as `keys create` printed it (default: $ANOMALYD_API_KEY, which other users "
         "cannot see in the process list)"),
    ):
        shared.add_argument(flag, metavar=metavar, default=argparse.SUPPRESS, help=description)
    parser = argparse.ArgumentParser(
        prog="anomalyd",
        description=__doc__,
        parents=[shared],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, handler: Callable[[Client, argparse.Namespace], Output], what: str, **kwargs: Any
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[shared], help=what, description=what, **kwargs)
        sub.set_defaults(handler=handler)
        return sub

    commands.add_parser(
        "serve",
        add_help=False,
        help="run the server: serve --data-dir DIR --listen HOST:PORT (see serve --help)",
    )

    sub = command(
        "put-job",
        _put_job,
        "create a job",
        epilog=f"detector shorthand:\n{detector.GRAMMAR}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.add_argument("job_id", metavar="JOB_ID")
    sub.add_argument(
        "--detector",
        "-d",
        action="append",
        required=True,
        type=_typed(Detector.parse),
        help='e.g. "mean(responsetime) by airline"; repeat for more detectors',
    )
    sub.add_argument("--bucket-span", default="5m", type=_typed(parse_duration), help="default 5m")
    sub.add_argument("--influencer", action="append", default=[], help="repeatable")
    sub.add_argument("--latency", type=_typed(parse_duration), help="e.g. 30s")
    sub.add_argument("--time-field", default="time", help="default time")
    sub.add_argument(
        "--time-format",
        default="epoch",
        help="epoch (s, default), epoch_ms or a Java pattern like yyyy-MM-dd'T'HH:mm:ssXXX",
    )
    sub.add_argument(
        "--summary-count-field", default="", help="field holding pre-aggregated counts"
    )
    sub.add_argument("--model-memory-limit", help='e.g. "512mb"')
    sub.add_argument("--group", action="append", default=[], help="repeatable")
    sub.add_argument("--description", default="")

    for name, handler, what in (("jobs", _jobs, "list jobs"), ("stats", _stats, "show job stats")):
        sub = command(name, handler, what)
        sub.add_argument(
            "expr",
            nargs="?",
            default="",
            metavar="EXPR",
            help="id, group, comma list or wildcard (default: all)",
        )
        sub.add_argument("--allow-no-match", action=argparse.BooleanOptionalAction)

    sub = command("open", _open, "open a job")
    sub.add_argument("job_id", metavar="JOB")
    sub.add_argument("--timeout", type=_typed(parse_duration), help="server-side wait, e.g. 5m")

    sub = command("post", _post, "stream a file of JSON documents (NDJSON) into an open job")
    sub.add_argument("job_id", metavar="JOB")
    sub.add_argument("file", metavar="FILE", help="a path, or - for stdin")
    sub.add_argument("--reset-start", type=_typed(parse_time))
    sub.add_argument("--reset-end", type=_typed(parse_time))

    sub = command("flush", _flush, "process buffered data; times are ISO 8601, epoch ms or now")
    sub.add_argument("job_id", metavar="JOB")
    sub.add_argument("--calc-interim", action="store_true")
    for option in ("--start", "--end", "--advance-time", "--skip-time"):
        sub.add_argument(option, type=_typed(parse_time))

    sub = command("close", _close, "close jobs")
    sub.add_argument("expr", metavar="EXPR", help="id, group, comma list, wildcard, _all or *")
    sub.add_argument("--force", action="store_true", help="skip finishing buckets and persisting")
    sub.add_argument("--timeout", type=_typed(parse_duration), help="server-side wait, e.g. 5m")
    sub.add_argument("--allow-no-match", action=argparse.BooleanOptionalAction)

    sub = command("delete", _delete, "delete a job and its results")
    sub.add_argument("job_id", metavar="JOB")
    sub.add_argument("--force", action="store_true", help="force-close an open job first")
    sub.add_argument("--no-wait", action="store_true", help="return a task id at once")
    sub.add_argument("--delete-user-annotations", action="store_true")

    sub = command("update-job", _update_job, "change a job's updatable settings; others stay")
    sub.add_argument("job_id", metavar="JOB")
    sub.add_argument("--description")
    sub.add_argument("--group", action="append", help="repeatable; the job's new groups")
    sub.add_argument("--no-groups", action="store_true", help="remove every group")
    sub.add_argument("--model-memory-limit", help='e.g. "2gb"; only while the job is closed')
    sub.add_argument("--background-persist-interval", type=_typed(parse_duration), help="e.g. 2h")
    for option in ("--results-retention-days", "--model-snapshot-retention-days",
                   "--daily-model-snapshot-retention-after-days", "--renormalization-window-days"):
        sub.add_argument(option, type=int)
    sub.add_argument(
        "--detector-description",
        action="append",
        default=[],
        type=_typed(_indexed),
        metavar="INDEX=TEXT",
        help="a detector's new description; repeatable",
    )

    sub = command("reset", _reset, "empty a closed job: results, model, snapshots and counts go")
    sub.add_argument("job_id", metavar="JOB")
    sub.add_argument("--no-wait", action="store_true", help="return a task id at once")

    sub = command("task", _task, "show a task")
    sub.add_argument("task_id", metavar="ID")

    for name, handler, score in (
        ("buckets", _buckets, "--anomaly-score"),
        ("records", _records, "--record-score"),
        ("influencers", _influencers, "--influencer-score"),
    ):
        sub = command(name, handler, f"list a job's {name}, a page at a time")
        sub.add_argument("job_id", metavar="JOB")
        sub.add_argument(score, type=float, default=0.0, help="only results scoring at least this")
        _result_filters(sub)
        sub.add_argument("--sort", default="", help="default: the score; timestamp for buckets")
        sub.add_argument("--desc", action=argparse.BooleanOptionalAction, help="sort descending")
        sub.add_argument(
            "--from", type=int, default=0, dest="from_", metavar="N", help="results to skip"
        )
        sub.add_argument(
            "--size", type=int, default=None, metavar="N", help="results to show (default 100; 0 shows only the count)"
        )

    sub = command("overall-buckets", _overall_buckets, "combine bucket scores across jobs")
    sub.add_argument("expr", nargs="?", default="", metavar="EXPR", help="jobs (default: all)")
    sub.add_argument("--top-n", type=int, default=1, help="how many job scores to average")
    sub.add_argument("--bucket-span", type=_typed(parse_duration), help="default: longest job span")
    sub.add_argument("--overall-score", type=float, default=0.0)
    _result_filters(sub)
    sub.add_argument("--allow-no-match", action=argparse.BooleanOptionalAction)

    keys = commands.add_parser(
        "keys",
        help="create, list and delete the API keys of a server's --keys-file",
        description="API keys in a keys file, which a server started with --keys-file reads "
        "again within a second of a change. Only a salted hash of each secret is stored.",
    )
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    keys_file = argparse.ArgumentParser(add_help=False, parents=[output])
    default_keys_file = os.environ.get("ANOMALYD_KEYS_FILE")
    keys_file.add_argument(
        "--keys-file",
        metavar="FILE",
        default=default_keys_file,
        required=default_keys_file is None,
        help="the keys file, created with mode 0600 if missing (default: $ANOMALYD_KEYS_FILE)",
    )
    sub = key_commands.add_parser(
        "create",
        parents=[keys_file],
        help="create a key and print its credential, the only time it is shown",
    )
    sub.add_argument("--role", required=True, choices=sorted(ROLE_PRIVILEGES))
    sub.add_argument("--name", default="", help="what the key is for")
    sub.set_defaults(handler=_keys_create)
    sub = key_commands.add_parser("list", parents=[keys_file], help="list keys (never secrets)")
    sub.set_defaults(handler=_keys_list)
    sub = key_commands.add_parser("delete", parents=[keys_file], help="delete a key")
    sub.add_argument("key_id", metavar="ID")
    sub.set_defaults(handler=_keys_delete)

    sub = commands.add_parser(
        "demo", help="run a local server on generated data with planted incidents"
    )
    sub.add_argument(
        "--data-dir",
        type=Path,
        default=demo.DEFAULT_DIR,
        help=f"wiped first (default {demo.DEFAULT_DIR})",
    )
    sub.add_argument("--hours", type=int, default=7 * 24, help="hours of data (default 168)")
    sub.add_argument("--seed", type=int, default=0)
    return parser


def _result_filters(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--start", type=_typed(parse_time), help="results at or after this time")
    sub.add_argument("--end", type=_typed(parse_time), help="results before this time")
    sub.add_argument("--exclude-interim", action="store_true")


def _keys_create(args: argparse.Namespace) -> Output:
    key, credential = keystore.create_key(args.keys_file, role=args.role, name=args.name)
    print(f"created API key {key.id} ({key.role}); the credential is shown only this once", file=sys.stderr)
    return {**_key_fields(key), "encoded": credential}, credential


def _keys_list(args: argparse.Namespace) -> Output:
    keys = [_key_fields(key) for key in keystore.read_keys(args.keys_file)]
    rows = [(k["id"], k["role"], k["name"], k["creation_time"]) for k in keys]
    return keys, table(("ID", "ROLE", "NAME", "CREATED"), rows)


def _keys_delete(args: argparse.Namespace) -> Output:
    key = keystore.delete_key(args.keys_file, args.key_id)
    return _key_fields(key), f"deleted API key {key.id}"


def _key_fields(key: keystore.ApiKey) -> dict[str, str]:
    return {"id": key.id, "name": key.name, "role": key.role, "creation_time": key.creation_time}


def _typed(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a parser that raises ValueError, keeping its message."""

    def convert(value: str) -> T:
        try:
            return parse(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def _put_job(client: Client, args: argparse.Namespace) -> Output:
    job = client.put_job(
        args.job_id,
        detectors=args.detector,
        bucket_span=args.bucket_span,
        influencers=args.influencer,
        description=args.description,
        groups=args.group,
        latency=args.latency,
        summary_count_field_name=args.summary_count_field,
        time_field=args.time_field,
        time_format=args.time_format,
        model_memory_limit=args.model_memory_limit,
    )
    analysis = job["analysis_config"]
    summary = {
        "job_id": job["job_id"],
        "description": job["description"],
        "groups": job["groups"],
        "bucket_span": analysis["bucket_span"],
        "detectors": _detectors(job),
        "influencers": analysis["influencers"],
        "latency": analysis["latency"],
        "time": "{time_field} ({time_format})".format(**job["data_description"]),
        "model_memory_limit": (job["analysis_limits"] or {}).get("model_memory_limit"),
        "create_time": job["create_time"],
    }
    return job, fields(summary)


def _jobs(client: Client, args: argparse.Namespace) -> Output:
    jobs = client.get_jobs(args.expr, allow_no_match=args.allow_no_match)
    rows = [
        (
            job["job_id"],
            job["analysis_config"]["bucket_span"],
            _detectors(job),
            job["analysis_config"]["influencers"],
            job["groups"],
            job["create_time"],
        )
        for job in jobs
    ]
    headers = ("JOB_ID", "BUCKET_SPAN", "DETECTORS", "INFLUENCERS", "GROUPS", "CREATED")
    return jobs, table(headers, rows)


def _stats(client: Client, args: argparse.Namespace) -> Output:
    stats = client.get_job_stats(args.expr, allow_no_match=args.allow_no_match)
    rows = []
    for job in stats:
        counts, model = job["data_counts"] or {}, job["model_size_stats"] or {}
        rows.append(
            (
                job["job_id"],
                job["state"],
                counts.get("processed_record_count"),
                counts.get("bucket_count"),
                counts.get("latest_record_timestamp"),
                model.get("memory_status"),
                model.get("model_bytes"),
                job["failure_reason"],
            )
        )
    headers = (
        "JOB_ID",
        "STATE",
        "RECORDS",
        "BUCKETS",
        "LATEST_RECORD",
        "MEMORY",
        "MODEL_BYTES",
        "FAILURE",
    )
    return stats, table(headers, rows)


def _open(client: Client, args: argparse.Namespace) -> Output:
    result = client.open_job(args.job_id, timeout=args.timeout)
    return result, f"opened {args.job_id} on {text(result['node'] or None)}"


def _post(client: Client, args: argparse.Namespace) -> Output:
    progress = ProgressLine()
    try:
        counts = client.post_data(
            args.job_id,
            sys.stdin.buffer if args.file == "-" else args.file,
            reset_start=args.reset_start,
            reset_end=args.reset_end,
            progress=progress,
        )
    finally:
        progress.finish()
    return counts, fields(counts)


def _flush(client: Client, args: argparse.Namespace) -> Output:
    result = client.flush_job(
        args.job_id,
        calc_interim=args.calc_interim,
        start=args.start,
        end=args.end,
        advance_time=args.advance_time,
        skip_time=args.skip_time,
    )
    return result, fields(result)


def _close(client: Client, args: argparse.Namespace) -> Output:
    result = client.close_job(
        args.expr, force=args.force, timeout=args.timeout, allow_no_match=args.allow_no_match
    )
    return result, f"closed {text(result['job_ids']) if result['job_ids'] else '(no jobs matched)'}"


def _delete(client: Client, args: argparse.Namespace) -> Output:
    result = client.delete_job(
        args.job_id,
        force=args.force,
        wait_for_completion=not args.no_wait,
        delete_user_annotations=args.delete_user_annotations,
    )
    if result["task_id"]:
        return result, f"deleting {args.job_id}: task {result['task_id']} (see: anomalyd task ID)"
    return result, f"deleted {args.job_id}"


def _update_job(client: Client, args: argparse.Namespace) -> Output:
    job = client.update_job(
        args.job_id,
        description=args.description,
        groups=[] if args.no_groups else args.group,
        model_memory_limit=args.model_memory_limit,
        background_persist_interval=args.background_persist_interval,
        results_retention_days=args.results_retention_days,
        model_snapshot_retention_days=args.model_snapshot_retention_days,
        daily_model_snapshot_retention_after_days=args.daily_model_snapshot_retention_after_days,
        renormalization_window_days=args.renormalization_window_days,
        detector_descriptions=dict(args.detector_description) or None,
    )
    return job, f"updated {args.job_id}: {_detectors(job)}"


def _indexed(text: str) -> tuple[int, str]:
    """INDEX=TEXT as (index, text)."""
    index, equals, description = text.partition("=")
    if not equals or not index.strip().isdigit():
        raise ValueError(f"{text!r} is not INDEX=TEXT, e.g. 0=latency by host")
    return int(index), description


def _reset(client: Client, args: argparse.Namespace) -> Output:
    result = client.reset_job(args.job_id, wait_for_completion=not args.no_wait)
    if result["task_id"]:
        return result, f"resetting {args.job_id}: task {result['task_id']} (see: anomalyd task ID)"
    return result, f"reset {args.job_id}"


def _task(client: Client, args: argparse.Namespace) -> Output:
    task = client.get_task(args.task_id)
    return task, fields(task)


def _detectors(job: Document) -> str:
    return "; ".join(d["detector_description"] for d in job["analysis_config"]["detectors"])


def _buckets(client: Client, args: argparse.Namespace) -> Output:
    page = client.get_buckets(args.job_id, anomaly_score=args.anomaly_score, **_query(args))
    rows = [
        (b["timestamp"], b["anomaly_score"], b["event_count"], b["is_interim"])
        for b in page["buckets"]
    ]
    return page, _paged(
        ("TIMESTAMP", "ANOMALY_SCORE", "EVENT_COUNT", "INTERIM"), rows, page["count"]
    )


def _records(client: Client, args: argparse.Namespace) -> Output:
    page = client.get_records(args.job_id, record_score=args.record_score, **_query(args))
    rows = [
        (
            r["timestamp"],
            Detector(r["function"], r["field_name"]).shorthand(),
            "/".join(
                filter(
                    None, (r["partition_field_value"], r["by_field_value"], r["over_field_value"])
                )
            ),
            r["actual"],
            r["typical"],
            r["probability"],
            r["record_score"],
        )
        for r in page["records"]
    ]
    headers = ("TIMESTAMP", "FUNCTION", "SERIES", "ACTUAL", "TYPICAL", "PROBABILITY", "SCORE")
    return page, _paged(headers, rows, page["count"])


def _influencers(client: Client, args: argparse.Namespace) -> Output:
    page = client.get_influencers(
        args.job_id, influencer_score=args.influencer_score, **_query(args)
    )
    rows = [
        (
            i["timestamp"],
            i["influencer_field_name"],
            i["influencer_field_value"],
            i["probability"],
            i["influencer_score"],
        )
        for i in page["influencers"]
    ]
    return page, _paged(
        ("TIMESTAMP", "FIELD", "VALUE", "PROBABILITY", "SCORE"), rows, page["count"]
    )


def _overall_buckets(client: Client, args: argparse.Namespace) -> Output:
    result = client.get_overall_buckets(
        args.expr,
        top_n=args.top_n,
        bucket_span=args.bucket_span,
        overall_score=args.overall_score,
        exclude_interim=args.exclude_interim,
        start=args.start,
        end=args.end,
        allow_no_match=args.allow_no_match,
    )
    rows = [
        (
            o["timestamp"],
            o["overall_score"],
            ", ".join(f"{j['job_id']} {text(j['max_anomaly_score'])}" for j in o["jobs"]),
        )
        for o in result["overall_buckets"]
    ]
    return result, table(("TIMESTAMP", "OVERALL_SCORE", "JOBS"), rows)


def _query(args: argparse.Namespace) -> dict[str, Any]:
    """The filter and page arguments that buckets, records and influencers share."""
    names = ("start", "end", "exclude_interim", "sort", "desc", "from_", "size")
    return {name: getattr(args, name) for name in names}


def _paged(headers: Sequence[str], rows: list[tuple[Any, ...]], count: int) -> str:
    shown = table(headers, rows)
    return (
        shown if count <= len(rows) else f"{shown}\n({len(rows)} of {count}; see --from and --size)"
    )
