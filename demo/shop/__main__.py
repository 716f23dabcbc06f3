from __future__ import annotations

import argparse

from demo.shop.app import run

parser = argparse.ArgumentParser(prog="python -m demo.shop", description="The demo shop with fault injection.")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8001)
parser.add_argument("--rps", type=float, default=5.0, help="baseline load from the built-in generator")
args = parser.parse_args()
run(host=args.host, port=args.port, base_rps=args.rps)
