"""FIT-bot's benchmarks: `python -m bench` (full, writes BENCHMARKS.md) or `python -m bench --quick` (CI).

The bot under test runs in a process of its own (`fitbot run`, as in production); the Bot API emulator
(bot.sandbox.emulator) and the simulated people run in the benchmark's process. See bench/cli.py.
"""
