"""The command line every Python benchmark takes: --extension PATH,
--quick (small sizes, for the smoke run) and --out FILE (results JSON)."""
import argparse


def parse(doc):
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--extension", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out")
    return parser.parse_args()
