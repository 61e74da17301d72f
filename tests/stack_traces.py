"""A stack trace of each language, as its runtime prints it (tests of multiline joining, issue 14)."""

from __future__ import annotations

JAVA = [
    "2026-12-06 00:25:01,123 ERROR [main] c.e.Payments - payment failed",
    "java.lang.IllegalStateException: card declined",
    "\tat com.example.Payments.charge(Payments.java:42)",
    "\tat com.example.Main.main(Main.java:7)",
    "Caused by: java.io.IOException: gateway timeout",
    "\t... 2 more",
]
PYTHON = [
    "ERROR:payments:payment failed",
    "Traceback (most recent call last):",
    '  File "/app/pay.py", line 12, in charge',
    "    gateway.send(card)",
    "ConnectionError: gateway timeout",
    "",
    "During handling of the above exception, another exception occurred:",
    "",
    "Traceback (most recent call last):",
    '  File "/app/pay.py", line 14, in charge',
    "    raise PaymentError(card) from None",
    "payments.errors.PaymentError: card declined",
]
GO = [
    "panic: runtime error: index out of range [5] with length 3",
    "",
    "goroutine 1 [running]:",
    "main.charge(...)",
    "\t/app/pay.go:12",
    "main.main()",
    "\t/app/main.go:8 +0x1d",
    "created by main.start in goroutine 1",
    "\t/app/main.go:20 +0x3a",
]
NODE = [
    "Error: card declined",
    "    at charge (/app/pay.js:12:11)",
    "    at processTicksAndRejections (node:internal/process/task_queues:95:5)",
]
