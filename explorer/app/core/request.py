"""Showing an explorer in a kernel of Voila's preheated pool (see :mod:`explorer.serving.preheat`)."""

from __future__ import annotations

from ...serving.preheat import enter_background, leave_background, preheated, wait_for_page_request


def show_when_requested(build, **kwargs):
    """Build an explorer with ``build(**kwargs)`` and display it, the preheated way when pooled.

    In a pooled kernel (and when the caller gave no explicit ``query``): build the default
    view and do its idle work (``warm_up``) at low priority, wait for the page request,
    ``adopt_request(query, page_url)``, show.
    Anywhere else: build from the request's environment and show.
    """
    if not preheated() or "query" in kwargs:
        return build(**kwargs).show()
    given_url = kwargs.pop("page_url", None)
    enter_background()      # usually already done when explorer.app was imported
    try:
        explorer = build(query="", page_url="", **kwargs)
        # the idle work after a page shows (prefetch, lazy imports) is done now, at low
        # priority: after the request a pooled kernel only has to show the page
        explorer.warm_up()
        query, page_url = wait_for_page_request()
    finally:
        leave_background()  # a student is waiting now
    explorer.adopt_request(query, given_url or page_url)
    return explorer.show()
