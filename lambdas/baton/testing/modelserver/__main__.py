"""``python -m baton.testing.modelserver --script FILE [--port N] [--port-file F] [--record F]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from baton.testing.modelserver.server import ModelServer


def main(argv: list[str] | None = None) -> None:
    """Serve a script until interrupted; prints the URL once listening."""
    parser = argparse.ArgumentParser(prog="python -m baton.testing.modelserver", description=__doc__)
    parser.add_argument("--script", type=Path, required=True, help="YAML or JSON conversation script")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--port-file", type=Path, help="write the chosen port here once listening")
    parser.add_argument("--record", type=Path, help="append each request as a JSON line here")
    args = parser.parse_args(argv)
    server = ModelServer(args.script, port=args.port, record=args.record)
    if args.port_file is not None:
        args.port_file.write_text(str(server.port), encoding="utf-8")
    print(f"model server listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
