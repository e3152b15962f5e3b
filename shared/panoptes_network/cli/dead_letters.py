"""``bin/dead-letters``: print the messages Pub/Sub gave up on, or send them back.

    bin/dead-letters --project P                      print them (they stay)
    bin/dead-letters --project P --redrive            publish every one again, then drop it
    bin/dead-letters --project P --redrive MESSAGE_ID only that one
    bin/dead-letters --project P --ack                print them and drop them

A message lands in the ``dead-letter`` subscription after ``max_delivery_attempts`` failed
pushes (``infra/resources.yaml``). Redriving publishes its data and original attributes
again to the topic of the subscription that gave up (see
:mod:`panoptes_network.adapters.dead_letters`), so fix the cause first. Against Google Cloud
with your credentials; ``bin/dev dead-letters`` does the same on the local stack.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from panoptes_network.cli import summary
from panoptes_network.cli.cloud_access import cloud_access_errors, no_cloud_access_message

if TYPE_CHECKING:
    from panoptes_network.adapters.dead_letters import Publisher, Subscriber

__all__ = ["EVERY", "add_arguments", "check_arguments", "build_parser", "report", "run", "main"]

_PROG = "dead-letters"
#: The value of ``--redrive`` without a message id: every dead letter.
EVERY = "every"


def add_arguments(parser: argparse.ArgumentParser, *, prefix: str = "") -> None:
    """Add ``--redrive [MESSAGE_ID]``, ``--ack`` and ``--limit`` to a parser.

    ``bin/dead-letters`` and ``bin/dev dead-letters`` share them.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The parser to extend.
    prefix : str
        Put before each help text (e.g. ``"with dead-letters: "``).
    """
    parser.add_argument(
        "--redrive",
        nargs="?",
        const=EVERY,
        default=None,
        metavar="MESSAGE_ID",
        help=f"{prefix}publish every dead letter (or only MESSAGE_ID) again to the topic of "
        "the subscription that gave up on it, then acknowledge it; one whose subscription no "
        "longer exists stays and is reported",
    )
    parser.add_argument(
        "--ack",
        action="store_true",
        help=f"{prefix}acknowledge (drop) the printed messages; without it they stay",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=100,
        help=f"{prefix}look at most at this many messages (default %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/dead-letters``.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="bin/dead-letters",
        description=summary(__doc__),
        epilog="Printing leaves the messages in the subscription. Redriving publishes each one "
        "again with its original data and attributes (plus redriven_from and "
        "redriven_message_id), so fix what made it fail first. bin/dev dead-letters does the "
        "same on the local stack.",
    )
    parser.add_argument(
        "--project",
        default=os.environ.get("GOOGLE_CLOUD_PROJECT"),
        help="Google Cloud project id (default: $GOOGLE_CLOUD_PROJECT)",
    )
    parser.add_argument(
        "--subscription",
        default="dead-letter",
        help="the dead-letter pull subscription (default %(default)s)",
    )
    add_arguments(parser)
    return parser


def check_arguments(args: argparse.Namespace) -> str | None:
    """Return what is wrong with the dead-letter options, or None.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed with :func:`add_arguments`.

    Returns
    -------
    str or None
        A message for ``parser.error``.
    """
    if args.redrive is not None and args.ack:
        return "--ack and --redrive do not go together (a redrive acknowledges what it sends)"
    if args.limit < 1:
        return f"--limit must be 1 or more, got {args.limit}"
    return None


def report(
    subscriber: Subscriber,
    publisher: Publisher | None,
    project: str,
    *,
    subscription: str = "dead-letter",
    redrive: str | None = None,
    ack: bool = False,
    limit: int = 100,
    prog: str = _PROG,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Print dead letters (one JSON line each) or redrive them and print the summary.

    Parameters
    ----------
    subscriber : SubscriberClient
        A Pub/Sub subscriber client.
    publisher : PublisherClient or None
        A Pub/Sub publisher client (needed with ``redrive``).
    project : str
        The project.
    subscription : str
        The dead-letter subscription's id.
    redrive : str, optional
        :data:`EVERY` or a message id: redrive instead of printing.
    ack : bool
        Drop the printed messages.
    limit : int
        The most messages to look at.
    prog : str
        The prefix of the lines on ``err``.
    out, err : file, optional
        Where the JSON and the notes go (standard output and error by default).

    Returns
    -------
    int
        Exit status: 0 done; 1 when some dead letters could not be redriven; 2 when the
        message id asked for is not in the subscription.
    """
    from panoptes_network.adapters import dead_letters

    out = out or sys.stdout
    err = err or sys.stderr
    if redrive is None:
        letters = dead_letters.list_dead_letters(
            subscriber, project, subscription=subscription, limit=limit, acknowledge=ack
        )
        for letter in letters:
            print(json.dumps(letter.to_json()), file=out)
        if not letters:
            print(f"{prog}: the {subscription} subscription is empty", file=err)
        elif ack:
            print(f"{prog}: acknowledged (dropped) {len(letters)} dead letter(s)", file=err)
        else:
            print(
                f"{prog}: {len(letters)} dead letter(s) left in place "
                "(--redrive sends them back, --ack drops them)",
                file=err,
            )
        return 0
    if publisher is None:
        raise ValueError("a redrive needs a publisher client")
    result = dead_letters.redrive(
        subscriber,
        publisher,
        project,
        message_id=None if redrive == EVERY else redrive,
        subscription=subscription,
        limit=limit,
    )
    print(json.dumps(result.to_json()), file=out)
    if result.not_found:
        print(
            f"{prog}: no dead letter with message id {result.not_found[0]} in {subscription} "
            f"(among the first {limit}; run without --redrive to list them)",
            file=err,
        )
        return 2
    if result.left_in_place:
        print(
            f"{prog}: redrove {result.total}; {len(result.left_in_place)} left in place "
            "(see left_in_place)",
            file=err,
        )
        return 1
    print(f"{prog}: redrove {result.total} dead letter(s)", file=err)
    return 0


def run(
    project: str,
    *,
    subscription: str = "dead-letter",
    redrive: str | None = None,
    ack: bool = False,
    limit: int = 100,
    prog: str = _PROG,
) -> int:
    """Make the Pub/Sub clients and :func:`report`; a missing cloud is one line on stderr.

    The clients follow ``PUBSUB_EMULATOR_HOST`` when it is set.

    Parameters
    ----------
    project : str
        The project.
    subscription, redrive, ack, limit, prog
        As for :func:`report`.

    Returns
    -------
    int
        :func:`report`'s exit status; 1 when Pub/Sub cannot be reached or the subscription
        does not exist.
    """
    from google.api_core import exceptions as api_errors

    try:
        from google.cloud import pubsub_v1

        subscriber: Any = pubsub_v1.SubscriberClient()
        publisher: Any = pubsub_v1.PublisherClient() if redrive is not None else None
        return report(
            subscriber,
            publisher,
            project,
            subscription=subscription,
            redrive=redrive,
            ack=ack,
            limit=limit,
            prog=prog,
        )
    except api_errors.NotFound as exc:
        detail = " ".join(str(exc).split())
        print(
            f"{prog}: subscription projects/{project}/subscriptions/{subscription} not found "
            f"({detail}); infra.apply --project {project} creates it",
            file=sys.stderr,
        )
        return 1
    except cloud_access_errors() as exc:
        print(no_cloud_access_message(prog, exc), file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/dead-letters``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        Exit status of :func:`report`; 1 without a reachable project, 2 for bad options.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = check_arguments(args)
    if problem:
        parser.error(problem)
    if not args.project:
        print(
            f"{_PROG}: no project: give --project PROJECT or set GOOGLE_CLOUD_PROJECT",
            file=sys.stderr,
        )
        return 2
    return run(
        args.project,
        subscription=args.subscription,
        redrive=args.redrive,
        ack=args.ack,
        limit=args.limit,
    )


if __name__ == "__main__":
    sys.exit(main())
