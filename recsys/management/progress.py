"""A tqdm bar that speaks the services' progress(percent, message) protocol."""

from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def progress_bar(description: str):
    bar = tqdm(total=100, desc=description, unit="%", bar_format="{l_bar}{bar}| {n:.0f}% {postfix}")

    def update(percent: float, message: str = "") -> None:
        bar.n = min(100.0, float(percent))
        bar.set_postfix_str(message[:60])
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()
