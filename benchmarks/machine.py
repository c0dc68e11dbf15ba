"""What a benchmark ran on: the CPU, printed beside every figure that depends on it.

A ratio to one ``exp`` pass differs ~12x between the CPUs of this shared
machine (issue 14), so every benchmark that reports one names the CPU.
Imported by the scripts beside it (``python benchmarks/bench_x.py`` puts
this folder first on ``sys.path``).
"""

from __future__ import annotations

import platform


def cpu_model() -> str:
    """The CPU's model name with its family and model numbers (``/proc/cpuinfo``), else what Python knows."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or "unknown"
    name = fields.get("model name") or platform.processor() or "unknown"
    if "cpu family" in fields:
        name += f" (family {fields['cpu family']}, model {fields.get('model', '?')})"
    return name
