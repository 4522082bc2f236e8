"""Regenerate the Python code of the kite_gateway.v1 API from protos/.

Copies the googleapis protos the API imports into third_party/googleapis, and writes
api/python/kite_gateway_api/v1/*_pb2.py (messages), *_pb2.pyi (type stubs, mypy-protobuf),
*_pb2_grpc.py and *_pb2_grpc.pyi (gRPC stubs and servicer bases): the `kite-gateway-api`
distribution, which is all a service calling the gateway installs. The proto package stays
kite_gateway.v1 (the names on the wire); only the Python modules are named kite_gateway_api.v1, so
the generator's `kite_gateway_api.v1.x_pb2` imports are rewritten to `kite_gateway_api.v1.x_pb2`
(module names only: the descriptors' file and type names are untouched).

    python scripts/gen_protos.py           # regenerate in place
    python scripts/gen_protos.py --check   # exit 1 if the committed code is stale

The output depends on the exact grpcio-tools and mypy-protobuf versions, which the `dev` extra
of pyproject.toml pins.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
# The googleapis protos the API imports (google.type.Decimal and Date, google.api.http), copied
# from the installed googleapis-common-protos so that buf and protoc read the very files whose
# generated modules (google.type.decimal_pb2, ...) the runtime imports.
THIRD_PARTY = ROOT / "third_party" / "googleapis"
GOOGLEAPIS_PROTOS = (
    "google/type/decimal.proto",
    "google/type/date.proto",
    "google/api/annotations.proto",
    "google/api/http.proto",
    "google/rpc/error_details.proto",
)
PROTO_PACKAGE = Path("kite_gateway") / "v1"
PACKAGE = Path("kite_gateway_api") / "v1"
API_ROOT = ROOT / "api" / "python"
# A generated module's name (import lines, stub references, the builder's module argument).
_MODULE_NAME = re.compile(r"\bkite_gateway\.v1(?=\.\w+_pb2\b| import )")
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")
INIT_TEXT = '"""Generated code of the kite_gateway.v1 API (scripts/gen_protos.py). Do not edit."""\n'


def _plugin(name: str) -> str:
    """Find a protoc plugin installed beside the running interpreter (the venv's bin/)."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        sys.exit(f"gen_protos: {name} not found; install the dev extra: pip install -e '.[dev]'")
    return found


def _rename_modules(text: str) -> str:
    """kite_gateway_api.v1.x_pb2 -> kite_gateway_api.v1.x_pb2 outside the serialized descriptors."""
    lines = []
    for line in text.splitlines(keepends=True):
        if "AddSerializedFile" not in line:
            line = _MODULE_NAME.sub("kite_gateway_api.v1", line)
        lines.append(line)
    return "".join(lines)


def _googleapis_root() -> Path:
    import google.type.decimal_pb2  # googleapis-common-protos, a dependency of kite-gateway-api

    return Path(google.type.decimal_pb2.__file__).parent.parent.parent


def vendor(out_root: Path) -> None:
    """Copy the imported googleapis protos into out_root (third_party/googleapis layout)."""
    source = _googleapis_root()
    for name in GOOGLEAPIS_PROTOS:
        (out_root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, out_root / name)


def generate(out_dir: Path) -> None:
    """Generate the package into out_dir/kite_gateway_api/v1/."""
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / PROTO_PACKAGE).glob("*.proto"))
    import grpc_tools  # imported here so --help works without the dev extra

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{THIRD_PARTY}",
        f"-I{well_known}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *protos,
    ]
    subprocess.run(command, check=True, cwd=ROOT)
    (out_dir / PACKAGE).parent.mkdir(parents=True, exist_ok=True)
    (out_dir / PROTO_PACKAGE).rename(out_dir / PACKAGE)
    for path in (out_dir / PACKAGE).iterdir():
        path.write_text(_rename_modules(path.read_text()))
    (out_dir / PACKAGE / "__init__.py").write_text(INIT_TEXT)
    (out_dir / PACKAGE / "py.typed").write_text("")


def _generated_files(directory: Path) -> set[str]:
    if not directory.is_dir():
        return set()
    return {
        p.name
        for p in directory.iterdir()
        if p.name.endswith(GENERATED_SUFFIXES) or p.name in {"__init__.py", "py.typed"}
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if the committed code differs")
    args = parser.parse_args()

    target = API_ROOT / PACKAGE
    with tempfile.TemporaryDirectory() as tmp:
        vendored = Path(tmp) / "third_party"
        vendor(vendored)
        stale_vendored = [
            name
            for name in GOOGLEAPIS_PROTOS
            if not (THIRD_PARTY / name).exists() or not filecmp.cmp(vendored / name, THIRD_PARTY / name, shallow=False)
        ]
        if args.check and stale_vendored:
            print(
                "third_party/googleapis differs from googleapis-common-protos; run: python scripts/gen_protos.py",
                file=sys.stderr,
            )
            return 1
        if not args.check:
            vendor(THIRD_PARTY)
        fresh = Path(tmp) / PACKAGE
        generate(Path(tmp))
        new, old = _generated_files(fresh), _generated_files(target)
        if args.check:
            stale = sorted(old ^ new) + sorted(
                name for name in new & old if not filecmp.cmp(fresh / name, target / name, shallow=False)
            )
            if stale:
                print("generated code is stale; run: python scripts/gen_protos.py", file=sys.stderr)
                for name in stale:
                    print(f"  {PACKAGE / name}", file=sys.stderr)
                return 1
            print(f"generated code in {PACKAGE} is current ({len(new)} files)")
            return 0
        target.mkdir(parents=True, exist_ok=True)
        for name in old - new:
            (target / name).unlink()
        for name in new:
            shutil.copyfile(fresh / name, target / name)
        print(f"regenerated {len(new)} files in {PACKAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
