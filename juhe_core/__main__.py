"""The ``juhe`` command line: ``models``, ``balance``, ``chat "prompt"``, ``emulator``.

The key comes from ``--api-key`` or ``JUHE_API_KEY``; the root URL from ``--base-url`` or
``JUHE_BASE_URL``. Errors are printed as one line with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from juhe_core.client import JuheClient

__all__ = ["main"]


def _client(args: argparse.Namespace) -> JuheClient:
    from juhe_core.client import JuheClient

    return JuheClient(api_key=args.api_key, base_url=args.base_url)


def _models(args: argparse.Namespace) -> None:
    from juhe_core.catalogue import capabilities_for

    with _client(args) as client:
        models = client.list_models()
    rows = [("model", "formats", "context", "tools", "vision", "reasoning")]
    for m in sorted(models, key=lambda m: m.id):
        caps = capabilities_for(m.id)
        rows.append(
            (
                m.id,
                ",".join(m.supported_endpoint_types) or "-",
                str(caps.context_window) if caps.known else "?",
                "yes" if caps.tools else "no",
                "yes" if caps.vision else "no",
                "yes" if caps.reasoning else "no",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _balance(args: argparse.Namespace) -> None:
    with _client(args) as client:
        balance = client.balance()
    print(
        f"limit ${balance.limit_usd:,.2f}  used ${balance.used_usd:,.2f}  "
        f"remaining ${balance.remaining_usd:,.2f}"
    )


def _chat(args: argparse.Namespace) -> None:
    from juhe_core.messages import ChatRequest, Message, ReasoningDelta, TextDelta

    request = ChatRequest(args.model, [Message.text("user", args.prompt)])
    with _client(args) as client:
        stream = client.chat_stream(request, api_format=args.api_format)
        for delta in stream:
            if isinstance(delta, TextDelta):
                print(delta.text, end="", flush=True)
            elif isinstance(delta, ReasoningDelta) and args.show_reasoning and delta.text:
                print(f"\x1b[2m{delta.text}\x1b[0m", end="", flush=True)
    print()


def _emulator(args: argparse.Namespace) -> None:
    from juhe_core.testing.__main__ import main as emulator_main

    emulator_main(["--port", str(args.port), "--host", args.host])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="juhe", description="Talk to the Juhe API relay.")
    parser.add_argument(
        "--api-key",
        help="API key (default: $JUHE_API_KEY; prefer the variable: a flag shows in the "
        "process list)",
    )
    parser.add_argument(
        "--base-url", help="root URL (default: $JUHE_BASE_URL or https://api.juheai.top)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("models", help="list the models this key may use").set_defaults(run=_models)
    commands.add_parser("balance", help="show the key's quota and usage").set_defaults(run=_balance)
    chat = commands.add_parser("chat", help="stream an answer to a prompt")
    chat.add_argument("prompt")
    chat.add_argument("--model", default="gpt-4o-mini")
    chat.add_argument(
        "--api-format",
        default="openai",
        choices=["openai", "anthropic", "gemini", "responses", "auto"],
    )
    chat.add_argument("--show-reasoning", action="store_true")
    chat.set_defaults(run=_chat)
    emulator = commands.add_parser("emulator", help="run the offline emulator")
    emulator.add_argument("--port", type=int, default=8765)
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.set_defaults(run=_emulator)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    from juhe_core.errors import JuheError

    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except JuheError as exc:
        print(f"juhe: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
