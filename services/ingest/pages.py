"""HTML pages made into articles in worker processes, off ingest's event loop.

trafilatura and lxml hold the GIL for long stretches: in a thread, a 9 MB page still
stalled the event loop (and so ``/healthz``) by 0.7 s at a time. A small pool of spawned
processes does the extraction instead; a page that takes longer than its timeout has its
worker killed, and the next page gets a fresh one.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from pydantic import ValidationError

from services.ingest.admit import accept, validation_errors
from services.ingest.extract import detect_language, extract_page
from shared.schemas import Article, ArticleIn
from shared.settings import Settings
from shared.worker import InvalidInput

#: What the worker answers: the article, or field errors as in a 422.
Outcome = Article | list[dict[str, str]]


def accept_page(article: ArticleIn, settings: Settings) -> Outcome:
    """In a worker process: the accepted article, or why it is refused (errors, not
    exceptions, cross the process boundary: pydantic's do not pickle)."""
    try:
        return accept(article, settings)
    except (ValidationError, InvalidInput) as exc:
        return validation_errors(exc)


def warm_up() -> None:
    """In a new worker process: load what extraction needs (trafilatura's modules, the
    language model: a second or more) before any page's clock runs."""
    extract_page("<html><body><article><p>Warming up the extractor.</p></article></body></html>")
    detect_language("Warming up the language model with a sentence of plain English text.")


class PageWorkers:
    """A lazily started pool of ``workers`` processes with a per-page timeout."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: ProcessPoolExecutor | None = None
        # One page per worker at a time, so that a page's timeout counts its own work,
        # not its wait behind others.
        self._slots = asyncio.Semaphore(settings.html_workers)

    async def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # Spawned, not forked: the parent runs threads (uvicorn, redis) and an event loop.
            context = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(self.settings.html_workers, mp_context=context)
            self._pool = pool
            # Start-up (a second or two) is not the page's time.
            await asyncio.gather(
                *(
                    asyncio.wrap_future(pool.submit(warm_up))
                    for _ in range(self.settings.html_workers)
                )
            )
        return self._pool

    async def accept(self, article: ArticleIn) -> Outcome:
        """``accept`` in a worker process; a page over the timeout is refused."""
        timeout = self.settings.html_timeout_s
        async with self._slots:
            for attempt in (1, 2):
                pool = await self._executor()
                future = asyncio.wrap_future(pool.submit(accept_page, article, self.settings))
                try:
                    return await asyncio.wait_for(future, timeout)
                except TimeoutError:
                    self._discard(pool)
                    error = f"extracting the text from the HTML took over {timeout:g} s"
                    return [{"field": "html", "error": error}]
                except BrokenProcessPool:
                    # The worker died (killed by the kernel for its memory, say): once more
                    # on a fresh one, in case another page killed it.
                    self._discard(pool)
                    if attempt == 2:
                        return [{"field": "html", "error": "the HTML worker died on this page"}]
        raise AssertionError("unreachable")

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        # A stuck worker cannot be cancelled, only killed.
        for process in list(pool._processes.values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers (killing any still at work)."""
        if self._pool is not None:
            self._discard(self._pool)
