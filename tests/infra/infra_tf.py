"""Read infra/terraform with python-hcl2 and evaluate the simple expressions it uses.

python-hcl2 (8.x) keeps HCL's quotes: string literals come back as ``'"text"'`` and expressions as
``"${expr}"``. :class:`TfModel` strips that and evaluates what the structural tests need: ``var.*`` (defaults,
then ``env/dev.tfvars``), ``local.*``, arithmetic, ``tostring()``, string interpolation. A reference to a
resource attribute (``aws_sqs_queue.this.arn``) evaluates to a :class:`Ref`, so tests can check *which*
resource a policy or a setting points at.
"""

from __future__ import annotations

import ast
import importlib.util
import operator
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[2]
TF_DIR = REPO / "infra" / "terraform"
DEV_TFVARS = TF_DIR / "env" / "dev.tfvars"


def _load_packager() -> ModuleType:
    """infra/package_lambdas.py, which is a script (infra/ is not a package)."""
    spec = importlib.util.spec_from_file_location("package_lambdas", REPO / "infra" / "package_lambdas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["package_lambdas"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


package_lambdas = _load_packager()

_INTERP = re.compile(r"\$\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")
_RESOURCE_REF = re.compile(r"\b((?:data\.)?aws_[a-z0-9_]+\.[a-z0-9_]+(?:\[0\])?(?:\.[a-z0-9_]+)*)")
# `cond ? a : b` (our conditionals hold no nested `?`, and their branches no " : ").
_TERNARY = re.compile(r"^(.+?)\s+\?\s+(.+?)\s+:\s+(.+)$")
# `join("", aws_x.y[*].attr)`: the attribute of a resource with count 0 or 1, or "" when it has none.
_JOIN_SPLAT = re.compile(r'^join\(""\s*,\s*((?:data\.)?aws_[a-z0-9_]+\.[a-z0-9_]+)\[\*\]\.([a-z0-9_]+)\)$')


@dataclass(frozen=True)
class Ref:
    """A reference to a resource (``aws_sqs_queue.this``) and the attribute taken of it (``arn``)."""

    resource: str
    attribute: str

    def __str__(self) -> str:
        return f"<{self.resource}.{self.attribute}>"


def unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def clean(node: Any) -> Any:
    """Unquote keys (and nothing else: values are evaluated later); drop hcl2's bookkeeping keys."""
    if isinstance(node, dict):
        return {unquote(k): clean(v) for k, v in node.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(node, list):
        return [clean(v) for v in node]
    return node


def comments(node: Any) -> list[str]:
    """Every comment hcl2 attached anywhere inside ``node``."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "__comments__":
                found += [c["value"] for c in value]
            else:
                found += comments(value)
    elif isinstance(node, list):
        for value in node:
            found += comments(value)
    return found


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _each(node: Any, key: str, value: str) -> Any:
    if isinstance(node, dict):
        return {k: _each(v, key, value) for k, v in node.items()}
    if isinstance(node, list):
        return [_each(v, key, value) for v in node]
    if isinstance(node, str):
        return node.replace("${each.key}", key).replace("${each.value}", value)
    return node


class TfModel:
    def __init__(
        self,
        tf_dir: Path = TF_DIR,
        tfvars: Path | None = DEV_TFVARS,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        self.overrides = dict(overrides or {})  # like -var on the command line: wins over tfvars
        self.files: dict[str, dict[str, Any]] = {}
        for path in sorted(tf_dir.glob("*.tf")):
            with path.open(encoding="utf-8") as f:
                self.files[path.name] = hcl2.load(f)
        self.resources: dict[str, dict[str, Any]] = {}  # "aws_sqs_queue.this" -> body
        self.raw_resources: dict[str, dict[str, Any]] = {}
        self.data: dict[str, dict[str, Any]] = {}
        self.variables: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, dict[str, Any]] = {}
        self.locals: dict[str, Any] = {}
        for parsed in self.files.values():
            for block in parsed.get("resource", []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        key = f"{unquote(rtype)}.{unquote(name)}"
                        self.raw_resources[key] = body
                        self.resources[key] = clean(body)
            for block in parsed.get("data", []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        self.data[f"data.{unquote(rtype)}.{unquote(name)}"] = clean(body)
            for block in parsed.get("variable", []):
                for name, body in block.items():
                    self.variables[unquote(name)] = clean(body)
            for block in parsed.get("output", []):
                for name, body in block.items():
                    self.outputs[unquote(name)] = clean(body)
            for block in parsed.get("locals", []):
                self.locals.update(clean(block))
        # A resource with `for_each` over a map becomes one instance per key, `key["k"]`, with `${each.key}`
        # and `${each.value}` written in (what `terraform plan` would make of it).
        for key, body in list(self.resources.items()):
            if "for_each" in body:
                del self.resources[key]
                for each_key, each_value in self.eval(body["for_each"]).items():
                    instance = {k: v for k, v in body.items() if k != "for_each"}
                    self.resources[f'{key}["{each_key}"]'] = _each(instance, each_key, each_value)
        self.tfvars: dict[str, Any] = {}
        if tfvars is not None:
            with tfvars.open(encoding="utf-8") as f:
                self.tfvars = {k: unquote(v) for k, v in clean(hcl2.load(f)).items()}

    # --- lookups ---

    def of_type(self, rtype: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if k.startswith(rtype + ".")}

    def var(self, name: str) -> Any:
        if name in self.overrides:
            return self.overrides[name]
        if name in self.tfvars:
            return self.tfvars[name]
        default = self.variables[name].get("default")
        return self.eval(default)

    def count(self, key: str) -> int:
        """How many instances of a resource (or data source) this configuration makes."""
        body = self.resources.get(key) or self.data.get(key)
        assert body is not None, key
        return 1 if "count" not in body else int(self.eval(body["count"]))

    def block(self, body: dict[str, Any], name: str) -> dict[str, Any]:
        """The single nested block ``name`` of a resource body."""
        (inner,) = body[name]
        assert isinstance(inner, dict)
        return inner

    # --- evaluation ---

    def eval(self, value: Any) -> Any:
        if isinstance(value, bool | int | float) or value is None:
            return value
        if isinstance(value, list):
            return [self.eval(v) for v in value]
        if isinstance(value, dict):
            return {k: self.eval(v) for k, v in value.items()}
        assert isinstance(value, str)
        if len(value) >= 2 and value[0] == value[-1] == '"':
            # `$${` is HCL's escape for a literal `${` (an IAM policy variable, for instance).
            parts = value[1:-1].split("$${")
            evaluated = [_INTERP.sub(lambda m: str(self.expr(m.group(1))), part) for part in parts]
            return "${".join(evaluated)
        match = _INTERP.fullmatch(value)
        if match:
            return self.expr(match.group(1))
        return value

    def expr(self, text: str) -> Any:
        text = text.strip()
        if text.startswith("jsonencode(") and text.endswith(")"):
            return self.hcl_object(text[len("jsonencode(") : -1])
        ternary = _TERNARY.fullmatch(text)
        if ternary:
            condition, if_true, if_false = ternary.groups()
            chosen = if_true if self.expr(condition) else if_false
            return self.eval(chosen) if chosen.startswith('"') else self.expr(chosen)
        splat = _JOIN_SPLAT.fullmatch(text)
        if splat:
            resource, attribute = splat.groups()
            instances = self.count(resource)
            assert instances in (0, 1), f"join over {instances} instances of {resource}"
            return Ref(resource, attribute) if instances else ""
        ref = _RESOURCE_REF.fullmatch(text)
        if ref:
            text = text.replace("[0]", "")
            parts = text.split(".")
            split = 3 if parts[0] == "data" else 2
            return Ref(".".join(parts[:split]), ".".join(parts[split:]))
        return self._ast(ast.parse(text, mode="eval").body, text)

    def hcl_object(self, text: str) -> dict[str, Any]:
        """A flat HCL object literal ``{a = expr, b = [expr, ...]}`` (what our jsonencode calls hold)."""
        body = text.strip()
        assert body[0] == "{" and body[-1] == "}", text
        result: dict[str, Any] = {}
        for key, value in re.findall(r"(\w+)\s*=\s*(\[[^\]]*\]|\"[^\"]*\"|[^,\s}]+)", body[1:-1]):
            if value.startswith("["):
                result[key] = [self.expr(v) for v in value[1:-1].split(",") if v.strip()]
            elif value.startswith('"'):
                result[key] = self.eval(value)
            else:
                result[key] = self.expr(value)
        return result

    def _ast(self, node: ast.AST, text: str) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](self._ast(node.left, text), self._ast(node.right, text))
        if isinstance(node, ast.Attribute):
            path = []
            cur: ast.AST = node
            while isinstance(cur, ast.Attribute):
                path.append(cur.attr)
                cur = cur.value
            assert isinstance(cur, ast.Name), text
            path.append(cur.id)
            path.reverse()
            if path[0] == "var":
                return self.var(path[1])
            if path[0] == "local":
                value: Any = self.eval(self.locals[path[1]])
                for key in path[2:]:
                    value = value[key]
                return value
            if path[0].startswith("aws_") or path[0] == "data":
                split = 3 if path[0] == "data" else 2
                return Ref(".".join(path[:split]), ".".join(path[split:]))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "tostring":
            (arg,) = node.args
            return str(self._ast(arg, text))
        raise ValueError(f"cannot evaluate {text!r}")
